/**
 * The import direction and the other structural rules of the code base, checked on the real tree
 * (http → pipeline → core; adapters reached only through the wiring; core free of I/O).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildImportGraph } from "./import-graph";
import { readRepo } from "./read-repo";
import {
  BODY_PARSER,
  bodyReadsOutsideParser,
  castsToDbHandles,
  IMPORT_RULES,
  importViolations,
  oversizedFiles,
  withDbOutsideAdapters,
} from "./rules";

const repo = readRepo(fileURLToPath(new URL("../..", import.meta.url)));
const edges = buildImportGraph(repo.sources, repo.files);

describe("architecture", () => {
  it("reads the tree (a broken reader would make every rule pass)", () => {
    expect(repo.files).toContain("workers/index.ts");
    expect(edges.some((e) => e.from === "workers/index.ts" && !e.external)).toBe(true);
  });

  for (const rule of IMPORT_RULES) {
    it(rule.name, () => {
      expect(importViolations(rule, edges), "offending imports (from → to)").toEqual([]);
    });
  }

  it("withDb is named only in workers/adapters, workers/wire.ts and tests", () => {
    expect(withDbOutsideAdapters(repo.sources), "withDb outside adapters (file:line)").toEqual([]);
  });

  it("no source file (.ts, .tsx, .js, .sol) is over 300 lines, generated code aside", () => {
    expect(oversizedFiles(repo.sources, 300), "files over 300 lines").toEqual([]);
  });

  it(`request bodies are read only by ${BODY_PARSER} (no c.req.json / text / parseBody / formData elsewhere)`, () => {
    expect(bodyReadsOutsideParser(repo.sources), "body reads outside the parser (file:line)").toEqual([]);
  });

  it("nothing is cast `as unknown as Db` (or Tx)", () => {
    expect(castsToDbHandles(repo.sources), "casts to a database handle (file:line)").toEqual([]);
  });
});
