/**
 * The architecture's rules as pure functions of the import graph and the source text: each
 * returns its violations, already formatted for a failure message (empty when the rule holds).
 */
import ts from "typescript";
import { formatEdge, packageOf, type ImportEdge, type SourceFile } from "./import-graph";

const under = (dir: string) => (file: string) => file.startsWith(`${dir}/`);
const isHttp = under("workers/http");
const isPipeline = under("workers/pipeline");
const isCore = under("workers/core");
const isAdapter = under("workers/adapters");
const isJob = under("workers/jobs");
const isProviderRuntime = under("provider-runtime");
const isScript = under("scripts");
const isWire = (file: string) => file === "workers/wire.ts";
/**
 * The composition roots, the only files outside adapters that may import them: the worker's wiring,
 * and the Node programs (`scripts/*.ts`, `bench/*.ts`: the job runner, ledger:check, benchmarks) that
 * build the same adapters over node-postgres.
 */
const isNodeProgram = (file: string) => /^(scripts|bench)\/[^/]+\.ts$/.test(file);
const isWiring = (file: string) => isWire(file) || file === "workers/index.ts" || isNodeProgram(file);

/** Tests beside the code and everything under test/: they may reach into adapters and use withDb. */
export const isTest = (file: string) => /\.test\.tsx?$/.test(file) || under("test")(file);

/** Generated files, which the size rule leaves alone. */
export const isGenerated = (file: string) =>
  under("contracts/generated")(file) ||
  under("db/migrations")(file) ||
  file === "worker-configuration.d.ts" ||
  file === "package-lock.json";

/** The packages core may use: validation, viem's pure utilities and the Merkle tree, all free of I/O. */
export const CORE_PACKAGES = ["zod", "viem", "@openzeppelin/merkle-tree"];
/** Core's unit tests may also use the test runner and property-based testing. */
export const CORE_TEST_PACKAGES = [...CORE_PACKAGES, "vitest", "fast-check"];

/** An edge into a repository file that `target` accepts. */
const into = (target: (file: string) => boolean) => (edge: ImportEdge) => !edge.external && target(edge.to);
const intoAny = (...targets: ((file: string) => boolean)[]) => into((file) => targets.some((target) => target(file)));

const leavesCore = (edge: ImportEdge) => {
  if (!isCore(edge.from)) return false;
  if (!edge.external) return !isCore(edge.to);
  return !(isTest(edge.from) ? CORE_TEST_PACKAGES : CORE_PACKAGES).includes(packageOf(edge.to));
};

export interface ImportRule {
  name: string;
  forbids: (edge: ImportEdge) => boolean;
}

export const IMPORT_RULES: readonly ImportRule[] = [
  {
    name: "workers/http imports neither workers/adapters nor workers/wire.ts",
    forbids: (e) => isHttp(e.from) && intoAny(isAdapter, isWire)(e),
  },
  {
    name: "workers/pipeline imports neither workers/http nor workers/adapters",
    forbids: (e) => isPipeline(e.from) && intoAny(isHttp, isAdapter)(e),
  },
  {
    name: `workers/core imports only workers/core and the packages ${CORE_PACKAGES.join(", ")} (its tests also vitest, fast-check)`,
    forbids: leavesCore,
  },
  {
    // Tests (`*.test.ts` anywhere and everything under test/) are exempt: they build adapters on purpose.
    name: "only the composition roots (workers/wire.ts, workers/index.ts, the Node programs scripts/*.ts and bench/*.ts) and workers/adapters itself import workers/adapters (tests exempt)",
    forbids: (e) => into(isAdapter)(e) && !isAdapter(e.from) && !isWiring(e.from) && !isTest(e.from),
  },
  {
    name: "workers/jobs imports neither workers/http nor workers/adapters",
    forbids: (e) => isJob(e.from) && intoAny(isHttp, isAdapter)(e),
  },
  {
    name: "provider-runtime imports none of scripts, workers/adapters, workers/http, workers/pipeline",
    forbids: (e) => isProviderRuntime(e.from) && intoAny(isScript, isAdapter, isHttp, isPipeline)(e),
  },
];

/** The edges a rule forbids, as `from → to`. */
export const importViolations = (rule: ImportRule, edges: readonly ImportEdge[]) => edges.filter(rule.forbids).map(formatEdge).sort();

export interface LayerPair {
  name: string;
  matches: (edge: ImportEdge) => boolean;
}

/** The layer pairs whose edges are counted, for before/after comparisons of the restructuring. */
export const LAYER_PAIRS: readonly LayerPair[] = [
  { name: "http → adapters", matches: (e) => isHttp(e.from) && into(isAdapter)(e) },
  { name: "pipeline → adapters", matches: (e) => isPipeline(e.from) && into(isAdapter)(e) },
  { name: "pipeline → jobs", matches: (e) => isPipeline(e.from) && into(isJob)(e) },
  { name: "pipeline → http", matches: (e) => isPipeline(e.from) && into(isHttp)(e) },
  { name: "jobs → http", matches: (e) => isJob(e.from) && into(isHttp)(e) },
  { name: "jobs → adapters", matches: (e) => isJob(e.from) && into(isAdapter)(e) },
  { name: "core → outside core (files or other packages)", matches: leavesCore },
  { name: "provider-runtime → scripts", matches: (e) => isProviderRuntime(e.from) && into(isScript)(e) },
  {
    name: "anything else → adapters (not http, pipeline, jobs, wiring, tests)",
    matches: (e) => into(isAdapter)(e) && ![isAdapter, isHttp, isPipeline, isJob, isWiring, isTest].some((layer) => layer(e.from)),
  },
];

export function countLayerEdges(edges: readonly ImportEdge[]): { name: string; count: number }[] {
  return LAYER_PAIRS.map((pair) => ({ name: pair.name, count: edges.filter(pair.matches).length }));
}

// ---- Rules on the source text ----

const parse = (source: SourceFile) =>
  ts.createSourceFile(
    source.path,
    source.text,
    ts.ScriptTarget.Latest,
    false,
    source.path.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );

/** The nodes of a file's syntax tree that match, with their line and text (comments are not nodes). */
function findNodes(source: SourceFile, matches: (node: ts.Node) => boolean): { line: number; text: string }[] {
  const file = parse(source);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node) => {
    if (matches(node)) {
      const start = node.getStart(file);
      found.push({ line: file.getLineAndCharacterOfPosition(start).line + 1, text: file.text.slice(start, node.end).replace(/\s+/g, " ") });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const isTypeScript = (file: string) => /\.tsx?$/.test(file);

/** `withDb` (a database session on demand) belongs to the adapters: only they, the wiring and tests name it. */
export function withDbOutsideAdapters(sources: readonly SourceFile[]): string[] {
  // The text search only spares parsing files that cannot match; the syntax tree decides.
  return sources
    .filter((s) => isTypeScript(s.path) && !isAdapter(s.path) && !isWire(s.path) && !isTest(s.path) && s.text.includes("withDb"))
    .flatMap((s) => findNodes(s, (n) => ts.isIdentifier(n) && n.text === "withDb").map(({ line }) => `${s.path}:${line}`));
}

const MEASURED_EXTENSIONS = /\.(tsx?|js|sol)$/;
const lineCount = (text: string) => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);

/** Source files longer than `maxLines`, generated code aside. */
export function oversizedFiles(sources: readonly SourceFile[], maxLines = 300): string[] {
  return sources
    .filter((s) => MEASURED_EXTENSIONS.test(s.path) && !isGenerated(s.path) && lineCount(s.text) > maxLines)
    .map((s) => `${s.path}: ${lineCount(s.text)} lines`)
    .sort();
}

const DB_HANDLE_TYPES = ["Db", "Tx"];
const withoutParentheses = (node: ts.Expression): ts.Expression =>
  ts.isParenthesizedExpression(node) ? withoutParentheses(node.expression) : node;
const rightmostName = (name: ts.EntityName): string => (ts.isIdentifier(name) ? name.text : name.right.text);

/** `x as unknown as Db` (or `Tx`): a database handle forced past the type checker. */
const isCastToDbHandle = (node: ts.Node): boolean => {
  if (!ts.isAsExpression(node) || !ts.isTypeReferenceNode(node.type)) return false;
  const inner = withoutParentheses(node.expression);
  const fromUnknown = ts.isAsExpression(inner) && inner.type.kind === ts.SyntaxKind.UnknownKeyword;
  return fromUnknown && DB_HANDLE_TYPES.includes(rightmostName(node.type.typeName));
};

export function castsToDbHandles(sources: readonly SourceFile[]): string[] {
  // As for withDb, the text search only spares parsing files that cannot match.
  const mayMatch = (text: string) => text.includes("unknown") && DB_HANDLE_TYPES.some((name) => text.includes(name));
  return sources
    .filter((s) => isTypeScript(s.path) && mayMatch(s.text))
    .flatMap((s) => findNodes(s, isCastToDbHandle).map(({ line, text }) => `${s.path}:${line}: ${text}`));
}

/** The one file that reads a request's body (workers/http/parse.ts: every 400 names its param). */
export const BODY_PARSER = "workers/http/parse.ts";
const BODY_READERS = ["json", "text", "parseBody", "formData", "arrayBuffer", "blob"];

/** `c.req.json()` and the like (also through `c.req.raw`): a body read past the one parser. */
const isBodyRead = (node: ts.Node): boolean => {
  if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) return false;
  const { expression: target, name } = node.expression;
  if (!BODY_READERS.includes(name.text) || !ts.isPropertyAccessExpression(target)) return false;
  const isReq = (e: ts.Expression) => ts.isPropertyAccessExpression(e) && e.name.text === "req";
  return isReq(target) || (target.name.text === "raw" && isReq(target.expression));
};

/** Request bodies read anywhere in workers/ but parse.ts (tests aside). */
export function bodyReadsOutsideParser(sources: readonly SourceFile[]): string[] {
  const mayMatch = (text: string) => text.includes(".req") && BODY_READERS.some((name) => text.includes(name));
  return sources
    .filter((s) => isTypeScript(s.path) && under("workers")(s.path) && s.path !== BODY_PARSER && !isTest(s.path) && mayMatch(s.text))
    .flatMap((s) => findNodes(s, isBodyRead).map(({ line, text }) => `${s.path}:${line}: ${text}`));
}
