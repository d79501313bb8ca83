/** The gateway bench's goal table and Postgres section, as markdown lines. */
import type { NonStreamRow, StreamRow } from "./gateway-measure";
import type { FirstByteProbe, ProbeStatement } from "./gateway-postgres";
import { hotPathGoals, verdict } from "./gateway-goals";
import type { StatementDelta } from "./pg-statements";
import { fmt, table } from "./table";

const short = (q: string, n = 90) => {
  const one = q.replace(/\s+/g, " ").trim();
  return (one.length > n ? `${one.slice(0, n - 1)}…` : one).replace(/\|/g, "\\|");
};
const tables = (t: string[]) => (t.length ? t.join(", ") : "—");

export function goalsMarkdown(r: {
  nonStream: NonStreamRow[];
  streamRows: StreamRow[];
  firstByte: FirstByteProbe | null;
  portkey: string;
}): string[] {
  const goals = hotPathGoals(r);
  return [
    "## Goals (issue 13: the hot path, and Postgres at steady load)",
    "",
    table(
      ["goal", "target", "gateway", "floor (bare proxy)", "gateway, ADMISSION=off", "judged", "verdict"],
      goals.map((g) => [g.goal, g.target, g.gateway, g.floor, g.admissionOff, g.judged, verdict(g.met)]),
    ),
    "",
    "All figures from this run. Added latency is over the engine called directly; the goals judge the gateway's added p50 " +
      "and TTFT **minus the floor's** (the bare Hono proxy in workerd pays a workerd hop too, +1.6 ms p50 in the issue's table), " +
      "so `judged` = gateway − floor. CPU: the workerd process's CPU per request at concurrency 32 (the goal's load). " +
      "Writes: INSERT/UPDATE/DELETE/MERGE statements (pg_stat_statements) per 10 requests of the concurrency-32 cell, " +
      "from every client of the database (the worker, its Durable Object), the bench's own queries left out. " +
      "Reads before the first byte: an upper bound, judged strictly (see the Postgres section); recurring: statements that ran in at least half " +
      "of the requests' windows (on the request's path), occasional: the rest (a cache refresh running beside a request also lands there). " +
      "Against Portkey: the gateway's share of the floor's req/s divided by Portkey's share, both at concurrency 32 in this run.",
    "",
    r.portkey,
    "",
  ];
}

export function postgresMarkdown(r: { nonStream: NonStreamRow[]; firstByte: FirstByteProbe | null; statements: boolean }): string[] {
  if (!r.statements)
    return [
      "## Postgres",
      "",
      "pg_stat_statements is not loaded (bench/network-host.ts passes `shared_preload_libraries`): no statement counts in this run.",
      "",
    ];
  const out = ["## Postgres (pg_stat_statements; every client of the database, the bench's own queries left out)", ""];
  const rows = r.nonStream.filter((x) => x.pg);
  const per10 = (n: number, ok: number) => (ok > 0 ? fmt((10 * n) / ok) : "n/a");
  out.push(
    table(
      ["concurrency", "target", "requests", "writes / 10 req", "reads / 10 req", "other / 10 req", "new sessions / 1k req"],
      rows.map((x) => [
        x.concurrency,
        x.target,
        x.result.ok,
        per10(x.pg!.writes, x.result.ok),
        per10(x.pg!.reads, x.result.ok),
        per10(x.pg!.other, x.result.ok),
        fmt(x.cpu.pgSessionsPer1k, 1),
      ]),
    ),
    "",
    "Other: BEGIN, COMMIT, SET and the like. A window's count includes the flush of requests from before it and leaves out its last ones' (at steady load they balance).",
    "",
  );
  const steady = rows.find((x) => x.concurrency === 32 && x.target === "gateway");
  if (steady?.pg) {
    out.push(`Statements in the gateway's concurrency-32 window (${steady.result.ok} requests), most called first:`, "");
    out.push(
      table(
        ["kind", "tables", "calls", "per request", "statement"],
        steady.pg.statements.map((s: StatementDelta) => [
          s.kind,
          tables(s.tables),
          s.calls,
          fmt(s.calls / steady.result.ok, 3),
          short(s.query),
        ]),
      ),
      "",
    );
  }
  const fb = r.firstByte;
  if (fb) {
    out.push(
      `Before the first upstream byte: ${fb.requests} streamed gateway requests one at a time (${fmt(fb.seconds, 1)} s), ` +
        "a snapshot before each is sent and another when its response headers arrive (the gateway answers a stream once the provider has). " +
        `Per request: ${fmt(fb.readsBeforeFirstByte / fb.requests, 3)} reads, ${fmt(fb.writesBeforeFirstByte / fb.requests, 3)} writes, ` +
        `${fmt(fb.otherBeforeFirstByte / fb.requests, 3)} other before the first byte; ${fmt(fb.readsAfter / fb.requests, 3)} reads and ` +
        `${fmt(fb.writesAfter / fb.requests, 3)} writes after it. Background work a request starts (a cache's stale-while-revalidate refresh) ` +
        "may end inside a window as well: \"windows\" says in how many of the requests' windows a statement ran (every one: on the request's path; a few: periodic).",
      "",
    );
    out.push(
      table(
        ["kind", "tables", "before 1st byte", "windows", "after", "statement"],
        fb.statements
          .slice(0, 15)
          .map((s: ProbeStatement) => [
            s.kind,
            tables(s.tables),
            s.beforeFirstByte,
            `${s.windows}/${fb.requests}`,
            s.after,
            short(s.query),
          ]),
      ),
      "",
    );
  }
  return out;
}
