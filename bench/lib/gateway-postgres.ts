/**
 * "Reads before the first upstream byte": N streamed requests one after another, after a warm-up.
 * For each: a pg_stat_statements snapshot just before it is sent, another the moment its response
 * headers arrive (the gateway answers a stream only once the provider has answered, so everything
 * the gateway awaited before its upstream request has run by then; pg_stat_statements counts a
 * statement when it ends), the stream read to its end, a short gap. Statements between the two
 * snapshots are "before the first byte"; the rest (the usage flush, receipt checks…) "after".
 * Background work started by the request (a cache's stale-while-revalidate refresh) can end
 * inside the window too, so the figure is an upper bound: the per-statement list says in how many
 * of the N windows each statement ran (once per request, or now and then like a cache refresh).
 */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import type { Target } from "./load";
import {
  statementDelta,
  statementSnapshot,
  totals,
  type StatementDelta,
  type StatementKind,
  type StatementSnapshot,
} from "./pg-statements";

export interface ProbeStatement {
  query: string;
  kind: StatementKind;
  tables: string[];
  /** Calls between the request's send and its response headers, summed over the N requests. */
  beforeFirstByte: number;
  /** In how many of the N windows it ran at all. */
  windows: number;
  /** Calls outside those windows (after the first byte, and the final settle). */
  after: number;
}
export interface FirstByteProbe {
  requests: number;
  seconds: number;
  readsBeforeFirstByte: number;
  /** Of those, the calls of statements that ran in at least half of the N windows (on most requests' path, not now and then). */
  recurringReadsBeforeFirstByte: number;
  writesBeforeFirstByte: number;
  otherBeforeFirstByte: number;
  readsAfter: number;
  writesAfter: number;
  statements: ProbeStatement[];
}

/** Adds one window's statements to the per-statement tally (pure; keyed by statement text). */
export function tally(into: Map<string, ProbeStatement>, delta: StatementDelta[], where: "before" | "after"): void {
  for (const d of delta) {
    const s = into.get(d.query) ?? { query: d.query, kind: d.kind, tables: d.tables, beforeFirstByte: 0, windows: 0, after: 0 };
    if (where === "before") {
      s.beforeFirstByte += d.calls;
      s.windows += 1;
    } else s.after += d.calls;
    into.set(d.query, s);
  }
}

export function summarize(byStatement: Map<string, ProbeStatement>, requests: number, seconds: number): FirstByteProbe {
  const all = [...byStatement.values()];
  const sum = (k: StatementKind, f: (s: ProbeStatement) => number) => all.filter((s) => s.kind === k).reduce((n, s) => n + f(s), 0);
  return {
    requests,
    seconds,
    readsBeforeFirstByte: sum("read", (s) => s.beforeFirstByte),
    recurringReadsBeforeFirstByte: sum("read", (s) => (2 * s.windows >= requests ? s.beforeFirstByte : 0)),
    writesBeforeFirstByte: sum("write", (s) => s.beforeFirstByte),
    otherBeforeFirstByte: sum("other", (s) => s.beforeFirstByte),
    readsAfter: sum("read", (s) => s.after),
    writesAfter: sum("write", (s) => s.after),
    statements: all.sort((a, b) => b.beforeFirstByte - a.beforeFirstByte || b.after - a.after),
  };
}

async function drain(res: Response): Promise<void> {
  if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const reader = res.body.getReader();
  while (!(await reader.read()).done);
}

export async function firstByteProbe(
  t: Target,
  db: pg.Client,
  o: { warmup: number; requests: number; gapMs: number; settleMs: number },
): Promise<FirstByteProbe> {
  const send = () => fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
  for (let i = 0; i < o.warmup; i++) await drain(await send());
  await new Promise((r) => setTimeout(r, o.settleMs));
  const byStatement = new Map<string, ProbeStatement>();
  const started = performance.now();
  let last: StatementSnapshot = await statementSnapshot(db);
  for (let i = 0; i < o.requests; i++) {
    const before = await statementSnapshot(db);
    tally(byStatement, statementDelta(last, before), "after");
    const res = await send();
    const atHeaders = await statementSnapshot(db);
    tally(byStatement, statementDelta(before, atHeaders), "before");
    await drain(res);
    last = atHeaders;
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
  await new Promise((r) => setTimeout(r, o.settleMs)); // the last usage flush
  tally(byStatement, statementDelta(last, await statementSnapshot(db)), "after");
  return summarize(byStatement, o.requests, (performance.now() - started) / 1000);
}

/** Statements over a load window (the non-streaming cells), the bench's own left out. */
export const windowStatements = (before: StatementSnapshot, after: StatementSnapshot) => totals(statementDelta(before, after));
