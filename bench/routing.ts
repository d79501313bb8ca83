/**
 * `npm run bench` (routing): one routing decision at network scale, the full ranking
 * (`rankCandidates`, a scan and sort of the table) beside the indexed walk (`route`, core/routing/
 * route-walk.ts, taking the first three as forward does), and admission's worst-case price (the
 * old scan of every offer beside the index's per-model figure), in the same run on the same tables.
 *
 * Tables: 100 / 1,000 / 10,000 / 100,000 providers of one model, and 100,000 over 1,000 models.
 * Prices uniform in $0.10–$1.00 per M input tokens, output 2–4× input; 5 % of the offers suspended
 * or stale; latency rows for three edges (the loader still reads every edge's). Requests vary the
 * prompt (100–8,000) and max tokens (none, 64–2,048). Heap is measured after a forced GC.
 *
 * Knobs (env): BENCH_ROUTING_MS (300: time per measurement), BENCH_ROUTING_SEED (1).
 * Markdown to stdout; JSON to artifacts/bench-routing.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DEFAULT_ROUTING_POLICY, rankCandidates, type RankContext, type RouteRequest } from "../workers/core/routing/rank";
import { edgeLatency, offerGroup, routeIndex, worstCaseOf } from "../workers/core/routing/route-index";
import { rankTop } from "../workers/core/routing/route-walk";
import { latencyKey, type LatencyStats, type ProviderOffer, type RouteTable } from "../workers/core/routing/types";
import { runBench } from "./lib/harness";
import { fmt, int, table } from "./lib/table";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MS = Number(process.env.BENCH_ROUTING_MS ?? 300);
let seed = Number(process.env.BENCH_ROUTING_SEED ?? 1);
/** mulberry32: the same tables every run. */
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const NOW = 1_000_000_000;
const EDGES = ["AMS", "FRA", "IAD"];
const EDGE = "AMS";
const K = 3;

function makeTable(providers: number, models: number): RouteTable {
  const offers: ProviderOffer[] = [];
  const latency = new Map<string, LatencyStats>();
  for (let i = 0; i < providers; i++) {
    const providerId = `prov-${i.toString(36).padStart(5, "0")}`;
    const model = `model-${i % models}`;
    const input = 100_000 + Math.floor(rand() * 900_000);
    const sick = rand() < 0.05;
    offers.push({
      providerId,
      address: null,
      url: `http://10.0.${i >> 8}.${i & 255}:9100`,
      model,
      endpoints: ["chat", "completions"],
      inputPrice: BigInt(input),
      outputPrice: BigInt(Math.floor(input * (2 + 2 * rand()))),
      contextLength: 8_192 * (1 + Math.floor(rand() * 4)),
      lastHeartbeatMs: sick && rand() < 0.5 ? NOW - 600_000 : NOW - 1_000,
      suspended: sick && rand() < 0.5,
      stakeOk: true,
      waitingRequests: Math.floor(rand() * 4),
      maxWaitingRequests: 16,
    });
    for (const edge of EDGES) {
      latency.set(latencyKey(edge, providerId, model), {
        ttftMs: 50 + rand() * 500,
        tpotMs: 5 + rand() * 30,
        successRate: 0.9 + rand() * 0.1,
        samples: 20,
      });
    }
  }
  return { offers, latency, loadedAtMs: NOW };
}

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

interface Row {
  scenario: string;
  offers: number;
  models: number;
  oldUs: number;
  newUs: number;
  readPerDecision: number;
  same: boolean;
  tableMb: number;
  indexMb: number;
  indexBuildMs: number;
  oldAdmitUs: number | "throws";
  newAdmitUs: number;
}

async function main(): Promise<string> {
  // Warm both rankings up (JIT) on a table of their own before anything is measured.
  const warm = makeTable(1_000, 1);
  perCallUs((i) => rankTop(warm, requests[i % requests.length]!, ctx, K));
  perCallUs((i) => rankCandidates(warm, requests[i % requests.length]!, ctx));
  const rows: Row[] = [];
  for (const [providers, models] of [
    [100, 1],
    [1_000, 1],
    [10_000, 1],
    [100_000, 1],
    [100_000, 1_000],
  ] as const) {
    const base = heapMb();
    const t = makeTable(providers, models);
    const tableMb = heapMb() - base;
    const b0 = performance.now();
    const g = offerGroup(routeIndex(t), "model-0", "chat");
    if (g) edgeLatency(g, t, EDGE);
    const indexBuildMs = performance.now() - b0;
    const withIndex = heapMb();
    const indexMb = withIndex - base - tableMb;
    let same = true;
    let read = 0;
    for (const r of requests) {
      const top = rankTop(t, r, ctx, K);
      read += top.work.read;
      const full = rankCandidates(t, r, ctx).ranked.slice(0, K);
      same &&= top.ranked.length === full.length && top.ranked.every((o, i) => o === full[i]);
    }
    const newUs = perCallUs((i) => rankTop(t, requests[i % requests.length]!, ctx, K));
    const oldUs = perCallUs((i) => rankCandidates(t, requests[i % requests.length]!, ctx).ranked.slice(0, K));
    const fallback = ["model-0", "model-1"];
    const oldAdmitUs = oldWorstCase(t, fallback) === "throws" ? "throws" : perCallUs(() => oldWorstCase(t, fallback));
    const newAdmitUs = perCallUs(() => worstCaseOf(t, fallback, "chat"));
    rows.push({
      scenario: `${int(providers)} providers, ${int(models)} model${models > 1 ? "s" : ""}`,
      offers: providers,
      models,
      oldUs,
      newUs,
      readPerDecision: read / requests.length,
      same,
      tableMb,
      indexMb,
      indexBuildMs,
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
        "table MB",
        "index MB",
        "index build ms",
        "old admit µs",
        "new admit µs",
      ],
      rows.map((r) => [
        r.scenario,
        fmt(r.oldUs, 1),
        fmt(r.newUs, 1),
        fmt(r.readPerDecision, 1),
        r.same ? "yes" : "NO",
        fmt(r.tableMb, 1),
        fmt(r.indexMb, 1),
        fmt(r.indexBuildMs, 1),
        r.oldAdmitUs === "throws" ? "throws (RangeError)" : fmt(r.oldAdmitUs, 1),
        fmt(r.newAdmitUs, 2),
      ]),
    ),
    "",
    "Offers read: per decision by the indexed walk (the old ranking reads every offer of the table).",
    "Index build: the per-load build (groups, two price orders, the worst case, the edge's latency rows).",
    "Refresh of 1 % changed rows: not measured — the incremental refresh is not built yet (a reload rebuilds the index).",
    "",
    goals(rows),
  ].join("\n");
}

/** Issue 13's routing goals, met or not, from this run. */
function goals(rows: { offers: number; models: number; newUs: number; tableMb: number; indexMb: number }[]): string {
  const oneModel = (n: number) => rows.find((r) => r.offers === n && r.models === 1);
  const verdict = (value: number | undefined, limit: number) => (value === undefined ? "not measured" : value <= limit ? "met" : "NOT met");
  const at1k = oneModel(1_000)?.newUs;
  const at100k = oneModel(100_000)?.newUs;
  const mem = oneModel(100_000);
  const memMb = mem ? mem.tableMb + mem.indexMb : undefined;
  return table(
    ["goal", "this run", "verdict"],
    [
      ["≤ 20 µs per decision, 1,000 providers of one model", at1k === undefined ? "—" : `${fmt(at1k, 1)} µs`, verdict(at1k, 20)],
      ["≤ 200 µs per decision, 100,000 providers of one model", at100k === undefined ? "—" : `${fmt(at100k, 1)} µs`, verdict(at100k, 200)],
      ["≤ 40 MB per isolate for 100,000 offers", memMb === undefined ? "—" : `${fmt(memMb, 1)} MB`, verdict(memMb, 40)],
      ["refresh of 1 % changed ≤ 50 ms", "—", "not measured (no incremental refresh yet)"],
    ],
  );
}

await runBench("bench (routing)", main);
