/**
 * Import edges between the layers, counted: `npx tsx scripts/import-edges.ts` prints one row per
 * pair, for before/after comparisons of the restructuring (test/architecture/ holds the rules).
 */
import path from "node:path";
import { buildImportGraph } from "../test/architecture/import-graph";
import { readRepo } from "../test/architecture/read-repo";
import { countLayerEdges } from "../test/architecture/rules";

const repo = readRepo(path.resolve(import.meta.dirname, ".."));
const rows = countLayerEdges(buildImportGraph(repo.sources, repo.files));
const width = Math.max(...rows.map((row) => row.name.length));
console.log(`${"edge".padEnd(width)}  count`);
for (const row of rows) console.log(`${row.name.padEnd(width)}  ${String(row.count).padStart(5)}`);
