/**
 * The routing bench's registry: N providers of M models as the loader hands them to the route store
 * (core/routing/route-rows.ts), this edge's latency rows (the loader reads no other edge's), a
 * refresh's changed rows, and the same offers as the old loader's table (a Map of every edge's rows)
 * for the old ranking. Seeded: the same registry every run.
 */
import type { LatencyRow, ProviderState, RouteRows } from "../../workers/core/routing/route-rows";
import { latencyKey, type LatencyStats, type ProviderOffer, type RouteTable } from "../../workers/core/routing/types";

const SEED = Number(process.env.BENCH_ROUTING_SEED ?? 1);
let seed = SEED;
/** The same registry again: makeRows after reseed(n) returns what it returned after the last reseed(n). */
export const reseed = (n: number) => {
  seed = SEED + n;
};
/** mulberry32. */
export const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

export const NOW = 1_000_000_000;
export const EDGES = ["AMS", "FRA", "IAD"];
export const EDGE = "AMS";

/** A string as a database driver returns it: flat, one per row (a template literal is a rope of its parts). */
const flat = (s: string): string => JSON.parse(JSON.stringify(s)) as string;

const stats = (): LatencyStats => ({ ttftMs: 50 + rand() * 500, tpotMs: 5 + rand() * 30, successRate: 0.9 + rand() * 0.1, samples: 20 });

/** Prices uniform in $0.10–$1.00 per M input tokens, output 2–4× input; 5 % suspended or stale. */
function providerState(i: number, models: number): ProviderState {
  const input = 100_000 + Math.floor(rand() * 900_000);
  const sick = rand() < 0.05;
  return {
    provider: {
      id: flat(`prov-${i.toString(36).padStart(5, "0")}`),
      address: null,
      url: flat(`http://10.0.${i >> 8}.${i & 255}:9100`),
      lastHeartbeatMs: sick && rand() < 0.5 ? NOW - 600_000 : NOW - 1_000,
      suspended: sick && rand() < 0.5,
      stakeOk: true,
      waitingRequests: Math.floor(rand() * 4),
      maxWaitingRequests: 16,
    },
    offers: [
      {
        model: flat(`model-${i % models}`),
        endpoints: ["chat", "completions"],
        inputPrice: BigInt(input),
        outputPrice: BigInt(Math.floor(input * (2 + 2 * rand()))),
        contextLength: 8_192 * (1 + Math.floor(rand() * 4)),
      },
    ],
  };
}

export function makeRows(providers: number, models: number): RouteRows {
  const states = Array.from({ length: providers }, (_, i) => providerState(i, models));
  const latency: LatencyRow[] = states.map((s) => ({ edge: EDGE, providerId: s.provider.id, model: s.offers[0]!.model, ...stats() }));
  return { providers: states, latency };
}

/**
 * A refresh's rows: `fraction` of the providers changed — every one a heartbeat (load, time), one in
 * four also a new price, one in twenty suspended — with their latency rows moved too.
 */
export function changedRows(offers: readonly ProviderOffer[], fraction: number, nowMs: number): RouteRows {
  const n = offers.length;
  const count = Math.max(1, Math.round(n * fraction));
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(rand() * n));
  const providers: ProviderState[] = [];
  const latency: LatencyRow[] = [];
  for (const i of picked) {
    const o = offers[i]!;
    const reprice = rand() < 0.25;
    const input = reprice ? BigInt(100_000 + Math.floor(rand() * 900_000)) : o.inputPrice;
    providers.push({
      provider: {
        id: o.providerId,
        address: o.address,
        url: o.url,
        lastHeartbeatMs: nowMs,
        suspended: rand() < 0.05,
        stakeOk: o.stakeOk,
        waitingRequests: Math.floor(rand() * 4),
        maxWaitingRequests: o.maxWaitingRequests,
      },
      offers: [
        {
          model: o.model,
          endpoints: o.endpoints,
          inputPrice: input,
          outputPrice: reprice ? input * 3n : o.outputPrice,
          contextLength: o.contextLength,
        },
      ],
    });
    latency.push({ edge: EDGE, providerId: o.providerId, model: o.model, ...stats() });
  }
  return { providers, latency };
}

/** The old loader's table of the same offers: a flat list and a Map of every edge's latency rows (this edge's as the store holds them). */
export function oldTable(t: RouteTable): RouteTable {
  const latency = new Map<string, LatencyStats>();
  for (const o of t.offers) {
    for (const e of EDGES) {
      const row = e === EDGE ? t.latency.get(latencyKey(e, o.providerId, o.model)) : stats();
      if (row) latency.set(latencyKey(e, o.providerId, o.model), row);
    }
  }
  return { offers: t.offers.map((o) => ({ ...o })), latency, loadedAtMs: NOW };
}
