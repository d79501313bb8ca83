/**
 * `npm run bench` (routing): one routing decision at network scale, the full ranking
 * (`rankCandidates`, a scan and sort of the table) beside the indexed walk (`route`, core/routing/
 * route-walk.ts, taking the first three as forward does), admission's worst-case price (the old
 * scan of every offer beside the index's per-model figure), the route table's memory, and an
 * incremental refresh of 1 % changed rows — in the same run on the same registry.
 *
 * Registries (bench/lib/routing-world.ts): 100 / 1,000 / 10,000 / 100,000 providers of one model,
 * and 100,000 over 1,000 models; 5 % suspended or stale. The table is built as an isolate builds it:
 * the loader's rows through the route store (core/routing/route-store.ts), this edge's latency rows
 * only; its memory is the heap plus array buffers after a forced GC, with the rows it was built from
 * dropped (what the isolate holds: offers, index, latency). The old table (a flat list and a Map of
 * three edges' latency rows, as the old loader built it) is measured the same way for comparison.
 * The refresh runs the real apply path (`RouteStore.apply` + `table()`): 1 % of the providers with
 * a heartbeat, a quarter of them repriced, their latency rows moved; the median of five.
 *
 * Knobs (env): BENCH_ROUTING_MS (300: time per measurement), BENCH_ROUTING_SEED (1).
 * Markdown to stdout; JSON to artifacts/bench-routing.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DEFAULT_ROUTING_POLICY, rankCandidates, type RankContext, type RouteRequest } from "../workers/core/routing/rank";
import { worstCaseOf } from "../workers/core/routing/route-index";
import { RouteStore } from "../workers/core/routing/route-store";
import { rankTop } from "../workers/core/routing/route-walk";
import type { RouteTable } from "../workers/core/routing/types";
import { runBench } from "./lib/harness";
import { changedRows, EDGE, makeRows, NOW, oldTable, rand, reseed } from "./lib/routing-world";
import { fmt, int, table } from "./lib/table";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MS = Number(process.env.BENCH_ROUTING_MS ?? 300);
const K = 3;
const REFRESHES = 5;

const requests: RouteRequest[] = Array.from({ length: 64 }, (_, i) => ({
  model: "model-0",
  endpoint: "chat",
  edge: EDGE,
  promptTokens: 100 + Math.floor(rand() * 7_900),
  maxOutputTokens: i % 4 === 0 ? null : 64 + Math.floor(rand() * 1_984),
  steering: undefined,
}));
const ctx: RankContext = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };

/** µs per call of f(i), over MS milliseconds (at least 3 calls). */
function perCallUs(f: (i: number) => unknown): number {
  for (let i = 0; i < 3; i++) f(i);
  let n = 0;
  const t0 = performance.now();
  while (n < 3 || performance.now() - t0 < MS) f(n++);
  return ((performance.now() - t0) * 1000) / n;
}

/** JS heap plus array buffers (the index's typed arrays live outside the heap). */
const heapMb = () => {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1e6;
};

/** Admission's worst case as it was: a filter and a spread over every offer of the models. */
function oldWorstCase(t: RouteTable, models: string[]): string {
  try {
    const offers = t.offers.filter((o) => models.includes(o.model) && o.endpoints.includes("chat"));
    return String(Math.max(...offers.map((o) => o.contextLength)));
  } catch (e) {
    return e instanceof RangeError ? "throws" : String(e);
  }
}

/** The walk's first three equal the full ranking's, on this table. */
function sameTop(t: RouteTable, count = requests.length): { same: boolean; read: number } {
  let same = true;
  let read = 0;
  for (const r of requests.slice(0, count)) {
    const top = rankTop(t, r, ctx, K);
    read += top.work.read;
    const full = rankCandidates(t, r, ctx).ranked.slice(0, K);
    same &&= top.ranked.length === full.length && top.ranked.every((o, i) => o.providerId === full[i]!.providerId);
  }
  return { same, read: read / requests.length };
}

interface Row {
  scenario: string;
  offers: number;
  models: number;
  oldUs: number;
  newUs: number;
  readPerDecision: number;
  same: boolean;
  oldTableMb: number;
  tableMb: number;
  loadMs: number;
  refreshMs: number;
  sameAfterRefresh: boolean;
  oldAdmitUs: number | "throws";
  newAdmitUs: number;
}

async function main(): Promise<string> {
  // Warm both rankings and the store up (JIT) on a registry of their own before anything is measured.
  const warmStore = RouteStore.load(makeRows(1_000, 1), [EDGE], 1);
  const warm = warmStore.table(NOW);
  perCallUs((i) => rankTop(warm, requests[i % requests.length]!, ctx, K));
  perCallUs((i) => rankCandidates(warm, requests[i % requests.length]!, ctx));
  for (let i = 0; i < 20; i++) warmStore.apply(changedRows(warm.offers, 0.01, NOW), 2 + i);
  const rows: Row[] = [];
  for (const [providers, models] of [
    [100, 1],
    [1_000, 1],
    [10_000, 1],
    [100_000, 1],
    [100_000, 1_000],
  ] as const) {
    // Memory: the heap holding the table (its rows dropped), less the heap once the table is dropped too.
    const held = (() => {
      reseed(providers + models);
      let s: RouteStore | null = RouteStore.load(makeRows(providers, models), [EDGE], 1);
      let kept: RouteTable | null = s.table(NOW);
      const withTable = heapMb();
      s = null;
      kept = null;
      return withTable - heapMb();
    })();
    let loadMs = 0;
    const store = (() => {
      reseed(providers + models);
      const registry = makeRows(providers, models);
      const t0 = performance.now();
      const s = RouteStore.load(registry, [EDGE], 1);
      loadMs = performance.now() - t0;
      return s;
    })();
    let t: RouteTable = store.table(NOW);
    const loaded = t;
    const { same, read } = sameTop(t);
    const newUs = perCallUs((i) => rankTop(t, requests[i % requests.length]!, ctx, K));
    const fallback = ["model-0", "model-1"];
    const newAdmitUs = perCallUs(() => worstCaseOf(t, fallback, "chat"));
    const times: number[] = [];
    for (let i = 0; i < REFRESHES; i++) {
      const delta = changedRows(t.offers, 0.01, NOW);
      const t0 = performance.now();
      store.apply(delta, 2 + i);
      t = store.table(NOW);
      times.push(performance.now() - t0);
    }
    const refreshMs = times.sort((a, b) => a - b)[REFRESHES >> 1]!;
    const sameAfterRefresh = sameTop(t, 8).same;
    // The old algorithms on the old loader's table of the same registry, built last: the refresh
    // above ran with only what an isolate holds in memory.
    const withTable = heapMb();
    const old = oldTable(loaded);
    const oldTableMb = heapMb() - withTable;
    const oldUs = perCallUs((i) => rankCandidates(old, requests[i % requests.length]!, ctx).ranked.slice(0, K));
    const oldAdmitUs = oldWorstCase(old, fallback) === "throws" ? "throws" : perCallUs(() => oldWorstCase(old, fallback));
    const tableMb = held;
    rows.push({
      scenario: `${int(providers)} providers, ${int(models)} model${models > 1 ? "s" : ""}`,
      offers: providers,
      models,
      oldUs,
      newUs,
      readPerDecision: read,
      same,
      oldTableMb,
      tableMb,
      loadMs,
      refreshMs,
      sameAfterRefresh,
      oldAdmitUs,
      newAdmitUs,
    });
  }
  mkdirSync("artifacts", { recursive: true });
  writeFileSync("artifacts/bench-routing.json", `${JSON.stringify(rows, null, 2)}\n`);
  return [
    "## Routing at network scale (one decision: the first 3 candidates)",
    "",
    table(
      [
        "table",
        "old µs/decision",
        "new µs/decision",
        "offers read",
        "same top 3",
        "old table MB",
        "table MB",
        "load ms",
        "refresh 1 % ms",
        "same after refresh",
        "old admit µs",
        "new admit µs",
      ],
      rows.map((r) => [
        r.scenario,
        fmt(r.oldUs, 1),
        fmt(r.newUs, 1),
        fmt(r.readPerDecision, 1),
        r.same ? "yes" : "NO",
        fmt(r.oldTableMb, 1),
        fmt(r.tableMb, 1),
        fmt(r.loadMs, 1),
        fmt(r.refreshMs, 2),
        r.sameAfterRefresh ? "yes" : "NO",
        r.oldAdmitUs === "throws" ? "throws (RangeError)" : fmt(r.oldAdmitUs, 1),
        fmt(r.newAdmitUs, 2),
      ]),
    ),
    "",
    "Offers read: per decision by the indexed walk (the old ranking reads every offer of the table).",
    "Old table MB: the old loader's table (offers and a Map of three edges' latency rows), no index. Table MB: what an isolate",
    "holds now (offers, index, this edge's latency rows in typed arrays), heap + array buffers after a forced GC.",
    "Load: the rows through the route store (offers, index, latency). Refresh 1 %: `RouteStore.apply` of 1 % changed providers",
    "(heartbeats, a quarter repriced, their latency rows) and the new table, median of five; same after refresh: the walk's",
    "top 3 still equal the full ranking's on the refreshed table (8 requests).",
    "",
    goals(rows),
  ].join("\n");
}

/** Issue 13's routing goals, met or not, from this run. */
function goals(rows: Row[]): string {
  const oneModel = (n: number) => rows.find((r) => r.offers === n && r.models === 1);
  const verdict = (value: number | undefined, limit: number) => (value === undefined ? "not measured" : value <= limit ? "met" : "NOT met");
  const worst = (f: (r: Row) => number) => {
    const at = rows.filter((r) => r.offers === 100_000).map(f);
    return at.length ? Math.max(...at) : undefined;
  };
  const at1k = oneModel(1_000)?.newUs;
  const at100k = oneModel(100_000)?.newUs;
  const memMb = worst((r) => r.tableMb);
  const refreshMs = worst((r) => r.refreshMs);
  const show = (v: number | undefined, unit: string, digits = 1) => (v === undefined ? "—" : `${fmt(v, digits)} ${unit}`);
  return table(
    ["goal", "this run", "verdict"],
    [
      ["≤ 20 µs per decision, 1,000 providers of one model", show(at1k, "µs"), verdict(at1k, 20)],
      ["≤ 200 µs per decision, 100,000 providers of one model", show(at100k, "µs"), verdict(at100k, 200)],
      ["≤ 40 MB per isolate for 100,000 offers (worse of the two 100k tables)", show(memMb, "MB"), verdict(memMb, 40)],
      ["refresh of 1 % changed ≤ 50 ms at 100,000 offers (worse of the two)", show(refreshMs, "ms", 2), verdict(refreshMs, 50)],
    ],
  );
}

await runBench("bench (routing)", main);
