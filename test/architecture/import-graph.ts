/**
 * The repository's import graph, built from source text alone (no file system), so that the
 * architecture rules can be tried on a synthetic graph as well as on the real tree.
 */
import path from "node:path";
import ts from "typescript";

/** A file of the repository: its path relative to the root, with `/` separators, and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

/** One import: `to` is a repository path for a relative specifier, else the package specifier. */
export interface ImportEdge {
  from: string;
  to: string;
  external: boolean;
}

/** The directories whose TypeScript files make up the graph. */
export const GRAPH_ROOTS = ["workers", "provider-runtime", "db", "scripts", "bench", "test"];

const isTypeScript = (file: string) => /\.tsx?$/.test(file);
const isUnderGraphRoot = (file: string) => GRAPH_ROOTS.some((root) => file.startsWith(`${root}/`));

/**
 * Every module specifier a file names: static imports and re-exports, `import()` (in code and in
 * types) and `require()`. The compiler's own pre-processor reads them, so strings and comments
 * that merely look like imports are not counted.
 */
export function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName);
}

// What a relative specifier may name, in the order the bundler tries them.
const CANDIDATE_SUFFIXES = ["", ".ts", ".tsx", ".d.ts", "/index.ts", "/index.tsx"];

/**
 * The edge for one specifier of `from`. A relative specifier becomes the repository file it names
 * (a `.js` specifier may name its `.ts` source); one that names no known file keeps its joined path,
 * so that a rule on directories still sees where it points.
 */
export function resolveImport(from: string, specifier: string, isKnownFile: (file: string) => boolean): ImportEdge {
  if (!specifier.startsWith(".")) return { from, to: specifier, external: true };
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = CANDIDATE_SUFFIXES.map((suffix) => joined + suffix);
  if (joined.endsWith(".js")) candidates.push(joined.replace(/\.js$/, ".ts"), joined.replace(/\.js$/, ".tsx"));
  return { from, to: candidates.find(isKnownFile) ?? joined, external: false };
}

/** The package a bare specifier belongs to: `viem/accounts` → `viem`, `@scope/pkg/sub` → `@scope/pkg`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return (specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
}

/**
 * The import edges of every TypeScript file under GRAPH_ROOTS, one per (from, to) pair.
 * `knownFiles` lists every file of the repository, so that imports of `.js` or `.css` files resolve.
 */
export function buildImportGraph(sources: readonly SourceFile[], knownFiles: Iterable<string>): ImportEdge[] {
  const known = new Set(knownFiles);
  const isKnownFile = (file: string) => known.has(file);
  const edges = new Map<string, ImportEdge>();
  for (const source of sources) {
    if (!isTypeScript(source.path) || !isUnderGraphRoot(source.path)) continue;
    for (const specifier of importSpecifiers(source.text)) {
      const edge = resolveImport(source.path, specifier, isKnownFile);
      edges.set(`${edge.from}\0${edge.to}`, edge);
    }
  }
  return [...edges.values()];
}

/** `from → to`, the form every failure message lists. */
export const formatEdge = (edge: ImportEdge) => `${edge.from} → ${edge.to}`;
