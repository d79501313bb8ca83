/** rankCandidates over random route tables: coverage, cost order, the near-tie bound, and steering that never adds providers. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DEFAULT_ROUTING_POLICY, expectedCostPico, rankCandidates, type RouteRequest } from "./rank";
import { freshnessWindowMs } from "./health";
import { ctx, ids, NOW, offer, req, table, type Row } from "./rank.fixtures";
import { ProviderPreferences } from "./steering";

describe("rankCandidates: properties", () => {
  const offerArb = fc.record({
    inputPrice: fc.bigInt({ min: 0n, max: 5_000_000n }),
    outputPrice: fc.bigInt({ min: 0n, max: 5_000_000n }),
    stale: fc.boolean(),
    suspended: fc.boolean(),
    waitingRequests: fc.integer({ min: 0, max: 20 }),
    contextLength: fc.integer({ min: 512, max: 32_768 }),
    ttftMs: fc.option(fc.double({ min: 1, max: 2_000, noNaN: true })),
    successRate: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  const scenario = fc.record({
    offers: fc.array(offerArb, { maxLength: 8 }),
    promptTokens: fc.integer({ min: 1, max: 10_000 }),
    maxOutputTokens: fc.option(fc.integer({ min: 1, max: 4_000 })),
  });

  type OfferGen = typeof offerArb extends fc.Arbitrary<infer T> ? T : never;
  function build(s: { offers: OfferGen[] } & Pick<RouteRequest, "promptTokens" | "maxOutputTokens">) {
    const offers = s.offers.map((o, i) =>
      offer(`p${i}`, {
        inputPrice: o.inputPrice,
        outputPrice: o.outputPrice,
        lastHeartbeatMs: o.stale ? NOW - 60_000 : NOW,
        suspended: o.suspended,
        waitingRequests: o.waitingRequests,
        contextLength: o.contextLength,
      }),
    );
    const rows: Row[] = s.offers.flatMap((o, i): Row[] =>
      o.ttftMs === null ? [] : [["AMS", `p${i}`, { ttftMs: o.ttftMs, successRate: o.successRate }]],
    );
    return { t: table(offers, rows), r: req({ promptTokens: s.promptTokens, maxOutputTokens: s.maxOutputTokens }) };
  }

  it("without near-ties or steering: every offer is ranked or excluded, ranked in non-decreasing cost", () => {
    const policy = { ...DEFAULT_ROUTING_POLICY, nearTieRatio: 0 };
    fc.assert(
      fc.property(scenario, (s) => {
        const { t, r } = build(s);
        const out = rankCandidates(t, r, ctx({ policy }));
        const seen = [...ids(out), ...out.excluded.map((e) => e.providerId)].sort();
        expect(seen).toEqual(t.offers.map((o) => o.providerId).sort());
        const costs = out.ranked.map((o) => expectedCostPico(o, r, policy));
        for (let i = 1; i < costs.length; i++) expect(costs[i - 1]! <= costs[i]!).toBe(true);
        for (const o of out.ranked) {
          expect(o.suspended).toBe(false);
          expect(NOW - o.lastHeartbeatMs <= freshnessWindowMs(o, policy)).toBe(true);
          expect(o.waitingRequests < o.maxWaitingRequests).toBe(true);
        }
      }),
    );
  });

  it("with near-ties: the winner costs at most nearTieRatio more than the cheapest healthy offer", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { t, r } = build(s);
        const out = rankCandidates(t, r, ctx());
        if (out.ranked.length === 0) return;
        const costs = out.ranked.map((o) => expectedCostPico(o, r));
        const min = costs.reduce((m, c) => (c < m ? c : m));
        expect((costs[0]! - min) * 100n <= min * 5n).toBe(true);
      }),
    );
  });

  it("steering never adds providers: ranked with preferences ⊆ ranked or last-resort without", () => {
    const prefsArb = fc.record(
      {
        only: fc.array(fc.constantFrom("p0", "p1", "p2", "p3"), { maxLength: 3 }),
        ignore: fc.array(fc.constantFrom("p0", "p1", "p2", "p3"), { maxLength: 3 }),
        order: fc.array(fc.constantFrom("p0", "p1", "p2", "p3"), { maxLength: 3 }),
        sort: fc.constantFrom("price", "latency", "throughput" as const),
        allow_fallbacks: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(scenario, prefsArb, (s, prefs) => {
        const { t, r } = build(s);
        const unsteered = rankCandidates(t, r, ctx());
        // Steering can empty the healthy set and so bring in the low-success last resort, never more.
        const base = new Set([
          ...ids(unsteered),
          ...unsteered.excluded.filter((e) => e.reason === "low_success_rate").map((e) => e.providerId),
        ]);
        const steered = rankCandidates(t, { ...r, steering: ProviderPreferences.parse(prefs) }, ctx());
        for (const id of ids(steered)) expect(base.has(id)).toBe(true);
        expect(new Set(ids(steered)).size).toBe(steered.ranked.length);
      }),
    );
  });
});
