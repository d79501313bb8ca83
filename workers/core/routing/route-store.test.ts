import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ctx, NOW, req } from "./rank.fixtures";
import { rankCandidates } from "./rank";
import { buildRouteIndex, offerGroup, routeIndex, type OfferGroup } from "./route-index";
import type { LatencyRow, OfferRow, ProviderRow, ProviderState, RouteRows } from "./route-rows";
import { RouteStore } from "./route-store";
import { rankTop } from "./route-walk";
import { latencyKey, type Endpoint, type RouteTable } from "./types";

const ENDPOINTS: Endpoint[] = ["chat", "completions", "embeddings"];
const MODELS = ["a", "b", "c"];
const EDGE = "AMS";

const provider = (id: string, over: Partial<ProviderRow> = {}): ProviderRow => ({
  id,
  address: null,
  url: `http://10.0.0.1/${id}`,
  lastHeartbeatMs: NOW - 1_000,
  suspended: false,
  stakeOk: true,
  waitingRequests: 0,
  maxWaitingRequests: 16,
  ...over,
});
const offerRow = fc.record({
  model: fc.constantFrom(...MODELS),
  endpoints: fc.subarray(ENDPOINTS, { minLength: 1 }),
  inputPrice: fc.bigInt({ min: 0n, max: 50n }),
  outputPrice: fc.bigInt({ min: 0n, max: 50n }),
  contextLength: fc.integer({ min: 1, max: 100_000 }),
});
const offersArb = fc.uniqueArray(offerRow, { selector: (o) => o.model, maxLength: 3 });
const stats = fc.record({
  ttftMs: fc.integer({ min: 0, max: 900 }),
  tpotMs: fc.integer({ min: 0, max: 50 }),
  successRate: fc.double({ min: 0.5, max: 1, noNaN: true }),
  samples: fc.integer({ min: 0, max: 50 }),
});
const providerArb = (id: string) =>
  fc.record({
    provider: fc
      .record({ suspended: fc.boolean(), waitingRequests: fc.nat(20), lastHeartbeatMs: fc.constantFrom(NOW - 1_000, NOW - 600_000) })
      .map((p) => provider(id, p)),
    offers: offersArb,
  });
/** The database: providers p0..pN with their offers, latency rows for two edges. */
const worldArb = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    providers: fc.tuple(...Array.from({ length: n }, (_, i) => providerArb(`p${i}`))),
    latency: fc.array(fc.record({ edge: fc.constantFrom(EDGE, "FRA"), p: fc.nat(n - 1), model: fc.constantFrom(...MODELS), s: stats }), {
      maxLength: 20,
    }),
  }),
);

function rowsOf(w: {
  providers: ProviderState[];
  latency: { edge: string; p: number; model: string; s: Omit<LatencyRow, "edge" | "providerId" | "model"> }[];
}): RouteRows {
  const latency = new Map<string, LatencyRow>();
  for (const l of w.latency)
    latency.set(latencyKey(l.edge, `p${l.p}`, l.model), { edge: l.edge, providerId: `p${l.p}`, model: l.model, ...l.s });
  return { providers: w.providers, latency: [...latency.values()] };
}

/** A group as a function of its offers: ids by each price order, the worst case, each offer and its row. */
function canonical(g: OfferGroup | undefined) {
  if (!g) return undefined;
  const rows = g.latency(EDGE);
  return {
    byInput: Array.from(g.byInput, (p) => g.offers[p]!.providerId),
    byOutput: Array.from(g.byOutput, (p) => g.offers[p]!.providerId),
    ranks: Array.from(g.offers, (_, p) => [g.offers[g.byInput[g.inputRank[p]!]!] === g.offers[p], g.byOutput[g.outputRank[p]!] === p]),
    offers: g.offers.map((o, p) => ({ o, row: rows.row(p) })).sort((x, y) => (x.o.providerId < y.o.providerId ? -1 : 1)),
    max: [g.maxInputPrice, g.maxOutputPrice, g.maxContextLength, g.pricesExact],
  };
}
const indexOf = (t: RouteTable) =>
  ENDPOINTS.flatMap((e) => MODELS.map((m) => [e, m, canonical(offerGroup(routeIndex(t), m, e))] as const)).filter(([, , g]) => g);

describe("RouteStore.apply (incremental refresh)", () => {
  it("leaves the index equal to a full load of the same rows, whatever changed", () => {
    fc.assert(
      fc.property(worldArb, fc.array(fc.tuple(fc.nat(11), providerArb("x")), { maxLength: 6 }), worldArb, (w0, changes, lat) => {
        const before = rowsOf(w0);
        const store = RouteStore.load(before, [EDGE], 1);
        const after = [...w0.providers];
        const changed = new Map<string, ProviderState>();
        for (const [i, c] of changes) {
          // i < n: the provider changed (reprice, new or removed offers, suspended, heartbeat); else a new provider.
          const id = i < after.length ? after[i]!.provider.id : `n${i}`;
          const state = { provider: { ...c.provider, id }, offers: c.offers };
          const at = after.findIndex((p) => p.provider.id === id);
          if (at >= 0) after[at] = state;
          else after.push(state);
          changed.set(id, state);
        }
        const latency = rowsOf({ providers: [], latency: lat.latency.map((l) => ({ ...l, p: l.p % after.length })) }).latency;
        const full = {
          providers: after,
          latency: [...new Map([...before.latency, ...latency].map((r) => [latencyKey(r.edge, r.providerId, r.model), r])).values()],
        };
        // As the loader reads them: the changed rows, and every row of a changed provider.
        const delta = full.latency.filter((r) => changed.has(r.providerId) || latency.includes(r));
        expect(store.apply({ providers: [...changed.values()], latency: delta }, 2)).toBe(true);
        const incremental = store.table(NOW);
        const reloaded = RouteStore.load(full, [EDGE], 2).table(NOW);
        expect(indexOf(incremental)).toEqual(indexOf(reloaded));
        // The same offers in the table, and the same as indexing the table from scratch.
        expect(new Set(incremental.offers)).toEqual(new Set(reloaded.offers));
        const plain = buildRouteIndex({ offers: incremental.offers, latency: incremental.latency, loadedAtMs: NOW });
        for (const e of ENDPOINTS)
          for (const m of MODELS) expect(canonical(offerGroup(plain, m, e))).toEqual(canonical(offerGroup(routeIndex(incremental), m, e)));
        for (const m of MODELS) {
          const r = req({ model: m, promptTokens: 300, maxOutputTokens: 40 });
          const top = (t: RouteTable) => rankTop(t, r, ctx(), 3).ranked.map((o) => o.providerId);
          expect(top(incremental)).toEqual(top(reloaded));
          expect(top(incremental)).toEqual(
            rankCandidates(incremental, r, ctx())
              .ranked.slice(0, 3)
              .map((o) => o.providerId),
          );
        }
      }),
    );
  });

  const one = (id: string, offers: OfferRow[], over: Partial<ProviderRow> = {}): ProviderState => ({
    provider: provider(id, over),
    offers,
  });
  const o = (model: string, inputPrice: bigint, over: Partial<OfferRow> = {}): OfferRow => ({
    model,
    endpoints: ["chat", "completions"],
    inputPrice,
    outputPrice: inputPrice * 2n,
    contextLength: 8192,
    ...over,
  });

  it("applies a new price, a new offer, a removed offer, a suspension and a latency row to what routing reads", () => {
    const store = RouteStore.load(
      {
        providers: [one("p1", [o("a", 10n)]), one("p2", [o("a", 20n), o("b", 5n)])],
        latency: [{ edge: EDGE, providerId: "p1", model: "a", ttftMs: 100, tpotMs: 10, successRate: 1, samples: 5 }],
      },
      [EDGE],
      1,
    );
    const first = store.table(NOW);
    store.apply(
      {
        providers: [
          one("p1", [o("a", 30n)], { waitingRequests: 3 }),
          one("p2", [o("a", 20n)], { suspended: true }),
          one("p3", [o("b", 1n)]),
        ],
        latency: [{ edge: EDGE, providerId: "p1", model: "a", ttftMs: 250, tpotMs: 12, successRate: 0.95, samples: 6 }],
      },
      2,
    );
    const t = store.table(NOW);
    const a = offerGroup(routeIndex(t), "a", "chat")!;
    expect(Array.from(a.byInput, (p) => [a.offers[p]!.providerId, a.offers[p]!.inputPrice])).toEqual([
      ["p2", 20n],
      ["p1", 30n],
    ]);
    expect(a.offers.find((x) => x.providerId === "p2")!.suspended).toBe(true);
    expect(a.offers.find((x) => x.providerId === "p1")!.waitingRequests).toBe(3);
    expect(t.latency.get(latencyKey(EDGE, "p1", "a"))).toEqual({ ttftMs: 250, tpotMs: 12, successRate: 0.95, samples: 6 });
    const b = offerGroup(routeIndex(t), "b", "chat")!;
    expect(b.offers.map((x) => x.providerId)).toEqual(["p3"]);
    expect(routeIndex(t).offerCount).toBe(3);
    // The table handed out before is unchanged (a request walking it sees one state).
    expect(offerGroup(routeIndex(first), "a", "chat")!.offers.map((x) => [x.providerId, x.inputPrice])).toEqual([
      ["p1", 10n],
      ["p2", 20n],
    ]);
    // Rows older than what the store holds are not applied.
    expect(store.apply({ providers: [one("p1", [])], latency: [] }, 1)).toBe(false);
  });

  it("holds only the edges it was given, and another one once added", () => {
    const row = (edge: string): LatencyRow => ({ edge, providerId: "p1", model: "a", ttftMs: 100, tpotMs: 10, successRate: 1, samples: 5 });
    const store = RouteStore.load({ providers: [one("p1", [o("a", 10n)])], latency: [row(EDGE), row("FRA")] }, [EDGE], 1);
    expect(store.table(NOW).latency.get(latencyKey("FRA", "p1", "a"))).toBeUndefined();
    expect(store.table(NOW).latency.get(latencyKey(EDGE, "p1", "a"))).toEqual({ ttftMs: 100, tpotMs: 10, successRate: 1, samples: 5 });
    store.addEdge("FRA", [row("FRA")]);
    expect(store.hasEdge("FRA")).toBe(true);
    expect(store.table(NOW).latency.get(latencyKey("FRA", "p1", "a"))).toEqual({ ttftMs: 100, tpotMs: 10, successRate: 1, samples: 5 });
  });

  it("shares one group between endpoints that have the same offers", () => {
    const store = RouteStore.load({ providers: [one("p1", [o("a", 10n)]), one("p2", [o("a", 12n)])], latency: [] }, [EDGE], 1);
    const idx = routeIndex(store.table(NOW));
    expect(offerGroup(idx, "a", "chat")).toBe(offerGroup(idx, "a", "completions"));
    expect(offerGroup(idx, "a", "embeddings")).toBeUndefined();
  });
});
