/** The indexed walk equals the full ranking (rankCandidates) on random tables, and its work is bounded. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DEFAULT_ROUTING_POLICY, rankCandidates, type RouteRequest } from "./rank";
import { NOW, offer, req } from "./rank.fixtures";
import { rankTop, route } from "./route-walk";
import { ProviderPreferences } from "./steering";
import { latencyKey, type Endpoint, type LatencyStats, type ProviderOffer, type RouteTable } from "./types";

const IDS = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "pa", "pb"];
const price = fc.constantFrom(0n, 100_000n, 100_000n, 100_001n, 105_000n, 800_000n, 840_000n, 5_000_000n);
/** True about one time in five: most offers healthy, so near-ties and bands are common. */
const sometimes = fc.integer({ min: 0, max: 4 }).map((x) => x === 0);

const offerArb = fc.record({
  model: fc.constantFrom("llama", "qwen"),
  endpoints: fc.subarray(["chat", "completions", "embeddings"] as Endpoint[], { minLength: 1 }),
  inputPrice: price,
  outputPrice: price,
  stale: sometimes,
  suspended: sometimes,
  waitingRequests: fc.constantFrom(0, 3, 16),
  contextLength: fc.constantFrom(512, 4_096, 32_768),
  // Per edge: no row, or ttft/tpot (0 = unmeasured), success rate, samples.
  rows: fc.array(
    fc.record({
      edge: fc.constantFrom("AMS", "FRA"),
      ttftMs: fc.constantFrom(0, 50, 100, 100, 400),
      tpotMs: fc.constantFrom(0, 5, 10, 20),
      successRate: fc.constantFrom(0.2, 0.95, 1, 1),
      samples: fc.constantFrom(0, 10),
    }),
    { maxLength: 2 },
  ),
});

const steeringArb = fc.option(
  fc.record(
    {
      only: fc.subarray(IDS, { maxLength: 4 }),
      ignore: fc.subarray(IDS, { maxLength: 3 }),
      order: fc.subarray(IDS, { maxLength: 3 }),
      sort: fc.constantFrom("price", "latency", "throughput" as const),
      allow_fallbacks: fc.boolean(),
      max_price: fc.record({ prompt: fc.constantFrom(0.1, 0.2, 5), completion: fc.constantFrom(0.8, 5) }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  ),
);

const scenario = fc.record({
  offers: fc.array(offerArb, { maxLength: IDS.length }),
  /** Which id each offer gets: table order is not id order. */
  names: fc.shuffledSubarray(IDS, { minLength: IDS.length }),
  model: fc.constantFrom("llama", "qwen", "mistral"),
  endpoint: fc.constantFrom("chat", "completions", "embeddings" as const),
  edge: fc.constantFrom("AMS", "FRA"),
  promptTokens: fc.integer({ min: 0, max: 10_000 }),
  maxOutputTokens: fc.option(fc.integer({ min: 0, max: 4_000 })),
  steering: steeringArb,
  exclude: fc.subarray(IDS, { maxLength: 3 }),
  down: fc.subarray(IDS, { maxLength: 4 }),
  nearTieRatio: fc.constantFrom(0, 0.05, 0.5),
  k: fc.integer({ min: 0, max: IDS.length + 1 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): { t: RouteTable; r: RouteRequest; c: Parameters<typeof rankCandidates>[2] } {
  const latency = new Map<string, LatencyStats>();
  const offers: ProviderOffer[] = s.offers.map((o, i) => {
    const id = s.names[i]!;
    for (const row of o.rows) latency.set(latencyKey(row.edge, id, o.model), row);
    return offer(id, {
      model: o.model,
      endpoints: o.endpoints,
      inputPrice: o.inputPrice,
      outputPrice: o.outputPrice,
      lastHeartbeatMs: o.stale ? NOW - 60_000 : NOW,
      suspended: o.suspended,
      waitingRequests: o.waitingRequests,
      contextLength: o.contextLength,
    });
  });
  const r = {
    ...req({ model: s.model, endpoint: s.endpoint, edge: s.edge, promptTokens: s.promptTokens, maxOutputTokens: s.maxOutputTokens }),
    steering: s.steering === null ? undefined : ProviderPreferences.parse(s.steering),
    excludeProviderIds: new Set(s.exclude),
  };
  const down = new Set(s.down);
  const c = {
    nowMs: NOW,
    breakers: { isAvailable: (id: string) => !down.has(id) },
    policy: { ...DEFAULT_ROUTING_POLICY, nearTieRatio: s.nearTieRatio },
  };
  return { t: { offers, latency, loadedAtMs: NOW }, r, c };
}

describe("route (the indexed walk)", () => {
  it("ranks exactly as rankCandidates: its first k, the same model knowledge, the same exclusions when nobody is left", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { t, r, c } = build(s);
        const full = rankCandidates(t, r, c);
        const top = rankTop(t, r, c, s.k);
        expect(top.ranked.map((o) => o.providerId)).toEqual(full.ranked.slice(0, s.k).map((o) => o.providerId));
        expect(top.modelKnown).toBe(full.modelKnown);
        const all = rankTop(t, r, c, Number.POSITIVE_INFINITY);
        expect(all.ranked).toEqual(full.ranked);
        if (full.ranked.length === 0) expect(all.excluded).toEqual(full.excluded);
      }),
      { numRuns: 3_000 },
    );
  });

  it("a decision reads a bounded number of offers: three of 10,000 distinct prices read a handful", () => {
    const offers = Array.from({ length: 10_000 }, (_, i) =>
      offer(`p${String(i).padStart(5, "0")}`, { inputPrice: BigInt(100_000 + 7_919 * ((i * 37) % 10_000)), outputPrice: 400_000n }),
    );
    const t: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
    const c = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };
    const top = rankTop(t, req(), c, 3);
    expect(top.ranked.map((o) => o.providerId)).toEqual(
      rankCandidates(t, req(), c)
        .ranked.slice(0, 3)
        .map((o) => o.providerId),
    );
    expect(top.work.fullRank).toBe(false);
    expect(top.work.checked).toBe(3);
    expect(top.work.read).toBeLessThanOrEqual(12);
  });

  it("checks health only on the offers it considers: unhealthy cheap ones are read, the rest never checked", () => {
    const offers = Array.from({ length: 1_000 }, (_, i) =>
      offer(`p${String(i).padStart(4, "0")}`, { inputPrice: BigInt(100_000 * (i + 1)), suspended: i < 5 }),
    );
    const t: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
    const c = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };
    const r = route(t, req(), c);
    const it = r.ranked[Symbol.iterator]();
    expect(it.next().value?.providerId).toBe("p0005");
    expect(r.work.checked).toBe(6);
    expect(r.excluded.map((e) => e.reason)).toEqual(["suspended", "suspended", "suspended", "suspended", "suspended"]);
  });

  it("reads one model's offers only, never another model's", () => {
    const offers = Array.from({ length: 2_000 }, (_, i) => offer(`p${i}`, { model: i < 1_990 ? "other" : "llama", inputPrice: BigInt(i) }));
    const t: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
    const c = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };
    const top = rankTop(t, req(), c, 100);
    expect(top.ranked).toHaveLength(10);
    expect(top.work.read).toBe(10);
  });

  it("breaks a tie of cost and latency by provider id, whatever the table order", () => {
    const offers = ["d", "b", "c", "a"].map((id) => offer(id));
    const t: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
    const c = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };
    expect(rankTop(t, req(), c, 4).ranked.map((o) => o.providerId)).toEqual(["a", "b", "c", "d"]);
  });

  it("takes the full ranking when a cost would not be exact as a number (over 2^53 pico-USDC)", () => {
    const offers = [offer("a", { inputPrice: 10n ** 15n }), offer("b", { inputPrice: 10n ** 15n + 1n }), offer("c", { inputPrice: 1n })];
    const t: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
    const c = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: { ...DEFAULT_ROUTING_POLICY, nearTieRatio: 0 } };
    const top = rankTop(t, req(), c, 3);
    expect(top.work.fullRank).toBe(true);
    expect(top.ranked.map((o) => o.providerId)).toEqual(["c", "a", "b"]);
  });

  it("takes the full ranking of the model's group for sort: latency (the slower path)", () => {
    const offers = [offer("a", { inputPrice: 1n }), offer("b", { inputPrice: 2n })];
    const t: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
    const c = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };
    const top = rankTop(t, req({ steering: { sort: "latency" } }), c, 1);
    expect(top.work.fullRank).toBe(true);
    expect(top.ranked.map((o) => o.providerId)).toEqual(["a"]);
  });
});
