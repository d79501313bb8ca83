/**
 * Postgres statements as the gateway bench counts them: pg_stat_statements (loaded by
 * bench/network-host.ts) snapshotted by the bench's own client, differenced over a window, each
 * statement classed as a read, a write or other (BEGIN, COMMIT, SET…) with the tables it names.
 * The bench's own queries (on pg_stat_* and the catalogs) are left out. Black-box: nothing here
 * knows the gateway's SQL; it sees what every client of the database sent.
 */
import type pg from "pg";

export type StatementKind = "read" | "write" | "other";

export interface StatementCount {
  query: string;
  calls: number;
}
/** Cumulative calls per statement (pg_stat_statements' queryid and level), at one moment. */
export type StatementSnapshot = Map<string, StatementCount>;

export interface StatementDelta {
  query: string;
  kind: StatementKind;
  tables: string[];
  calls: number;
}

const stripComments = (q: string) => q.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/--[^\n]*/g, " ");

/** A statement that changes rows (also inside a CTE, or an upsert) is a write; a query is a read; the rest is other. */
export function kindOf(query: string): StatementKind {
  const q = stripComments(query).trim().replace(/^\(+/, "").toLowerCase();
  if (/\b(insert\s+into|delete\s+from|merge\s+into)\b/.test(q) || /(^|\s|\()update\s+[\w."]+(\s+(as\s+)?\w+)?\s+set\b/.test(q))
    return "write";
  if (/^(select|with|table|values)\b/.test(q)) return "read";
  return "other";
}

/** The tables a statement names after FROM, JOIN, INTO or UPDATE (schema and quotes dropped), in order, once each. */
export function tablesOf(query: string): string[] {
  const out: string[] = [];
  // A name followed at once by "(" is a function (now(), unnest(…)); "do update set" names no table.
  const re = /\b(?:from|join|into|update)\s+((?:"[^"]+"|[a-z_][\w$]*)(?:\.(?:"[^"]+"|[a-z_][\w$]*))?)(?![\w$(.])/gi;
  for (const m of stripComments(query).matchAll(re)) {
    const name = m[1]!.split(".").pop()!.replace(/"/g, "");
    if (!/^(select|lateral|set)$/i.test(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/** The bench's own statements: its snapshots of pg_stat_* views and the catalogs, and its set-up (enableStatements). */
export const isBenchOwn = (query: string) =>
  /\bpg_(stat_\w+|database|settings|extension|catalog)\b|shared_preload_libraries|^\s*create\s+extension\b/i.test(query);

/**
 * What ran between two snapshots, per statement, the bench's own left out. A statement missing
 * from `before`, or with fewer calls there than now (evicted and re-entered), counts all its calls.
 */
export function statementDelta(before: StatementSnapshot, after: StatementSnapshot): StatementDelta[] {
  const out: StatementDelta[] = [];
  for (const [id, a] of after) {
    if (isBenchOwn(a.query)) continue;
    const b = before.get(id)?.calls ?? 0;
    const calls = a.calls >= b ? a.calls - b : a.calls;
    if (calls > 0) out.push({ query: a.query, kind: kindOf(a.query), tables: tablesOf(a.query), calls });
  }
  return out.sort((x, y) => y.calls - x.calls);
}

export interface StatementTotals {
  reads: number;
  writes: number;
  other: number;
  /** Per statement, most called first (at most `top`). */
  statements: StatementDelta[];
}
export function totals(delta: StatementDelta[], top = 12): StatementTotals {
  const sum = (k: StatementKind) => delta.filter((d) => d.kind === k).reduce((n, d) => n + d.calls, 0);
  return { reads: sum("read"), writes: sum("write"), other: sum("other"), statements: delta.slice(0, top) };
}

/** Makes sure the extension's view exists in the bench's database; false when the server did not preload it. */
export async function enableStatements(db: pg.Client): Promise<boolean> {
  try {
    const loaded = await db.query<{ s: string }>("select current_setting('shared_preload_libraries') as s");
    if (!/\bpg_stat_statements\b/.test(loaded.rows[0]?.s ?? "")) return false;
    await db.query("create extension if not exists pg_stat_statements");
    return true;
  } catch {
    return false;
  }
}

export async function statementSnapshot(db: pg.Client): Promise<StatementSnapshot> {
  const r = await db.query<{ id: string; query: string; calls: string }>(
    `select userid::text || '/' || queryid::text || '/' || toplevel::text as id, query, calls::text as calls
       from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())`,
  );
  return new Map(r.rows.map((row) => [row.id, { query: row.query, calls: Number(row.calls) }]));
}
