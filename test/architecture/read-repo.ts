/**
 * The repository as the architecture rules see it: every file's path, and the text of its source
 * files. Installed packages, build output and dot-directories (.git, .meshgate, .wrangler) are skipped.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { SourceFile } from "./import-graph";

const SKIPPED_DIRECTORIES = new Set(["node_modules", "artifacts", "dist"]);
const SOURCE_EXTENSIONS = /\.(tsx?|js|sol)$/;

export interface RepoSnapshot {
  /** Every file, relative to the root, with `/` separators. */
  files: string[];
  /** The TypeScript, JavaScript and Solidity files, with their text. */
  sources: SourceFile[];
}

export function readRepo(root: string): RepoSnapshot {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!entry.name.startsWith(".") && !SKIPPED_DIRECTORIES.has(entry.name)) walk(relative);
      } else if (entry.isFile()) {
        files.push(relative);
      }
    }
  };
  walk("");
  files.sort();
  const sources = files
    .filter((file) => SOURCE_EXTENSIONS.test(file))
    .map((file) => ({ path: file, text: readFileSync(path.join(root, file), "utf8") }));
  return { files, sources };
}
