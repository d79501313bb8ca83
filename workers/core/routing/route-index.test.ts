import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NOW, offer } from "./rank.fixtures";
import { buildRouteIndex, offerGroup, worstCaseOf } from "./route-index";
import type { Endpoint, RouteTable } from "./types";

const ENDPOINTS: Endpoint[] = ["chat", "completions", "embeddings"];
/** Mostly prices a number holds exactly; sometimes one that it does not (then the walk takes the full ranking). */
const price = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 5_000_000n }), weight: 9 },
  { arbitrary: fc.bigInt({ min: 0n, max: 10n ** 18n }), weight: 1 },
);
const tableArb = fc
  .array(
    fc.record({
      model: fc.constantFrom("a", "b", "c"),
      endpoints: fc.subarray(ENDPOINTS, { minLength: 1 }),
      inputPrice: price,
      outputPrice: price,
      contextLength: fc.integer({ min: 1, max: 1_000_000 }),
    }),
    { maxLength: 20 },
  )
  .map((rows): RouteTable => ({ offers: rows.map((r, i) => offer(`p${i}`, r)), latency: new Map(), loadedAtMs: NOW }));

describe("buildRouteIndex", () => {
  it("groups each offer under every (endpoint, model) it serves, in table order, sorted by each price", () => {
    fc.assert(
      fc.property(tableArb, fc.constantFrom(...ENDPOINTS), fc.constantFrom("a", "b", "c"), (t, e, m) => {
        const g = offerGroup(buildRouteIndex(t), m, e);
        const expected = t.offers.filter((o) => o.model === m && o.endpoints.includes(e));
        expect(g?.offers ?? []).toEqual(expected);
        if (!g) return;
        for (let i = 1; i < g.offers.length; i++) {
          expect(g.offers[g.byInput[i - 1]!]!.inputPrice <= g.offers[g.byInput[i]!]!.inputPrice || !g.pricesExact).toBe(true);
          expect(g.offers[g.byOutput[i - 1]!]!.outputPrice <= g.offers[g.byOutput[i]!]!.outputPrice || !g.pricesExact).toBe(true);
        }
        for (let i = 0; i < g.offers.length; i++) expect(g.byInput[g.inputRank[i]!]).toBe(i);
      }),
    );
  });

  it("precomputes admission's worst case: the highest prices and context length over the models' offers", () => {
    fc.assert(
      fc.property(tableArb, fc.subarray(["a", "b", "c", "d"]), fc.constantFrom(...ENDPOINTS), (t, models, e) => {
        const offers = t.offers.filter((o) => models.includes(o.model) && o.endpoints.includes(e));
        const w = worstCaseOf(t, models, e);
        if (offers.length === 0) {
          expect(w).toBeNull();
          return;
        }
        expect(w).toEqual({
          inputPrice: offers.reduce((m, o) => (o.inputPrice > m ? o.inputPrice : m), 0n),
          outputPrice: offers.reduce((m, o) => (o.outputPrice > m ? o.outputPrice : m), 0n),
          contextLength: Math.max(...offers.map((o) => o.contextLength)),
        });
      }),
    );
  });
});
