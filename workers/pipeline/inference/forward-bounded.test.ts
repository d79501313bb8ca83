/** forward walks the ranking only as far as it tries: at 10,000 offers, a failover checks a handful. */
import { describe, expect, it } from "vitest";
import { failed, fails, harness, offer, request, served } from "./forward.fixtures";

describe("forward: bounded routing work", () => {
  it("fails over from the cheapest to the next, checking the breakers of only those it reaches", async () => {
    const offers = Array.from({ length: 10_000 }, (_, i) => offer(`p${String(i).padStart(5, "0")}`, BigInt(10_000 - i)));
    const h = harness(offers, { p09999: fails("p09999", "first_byte", 500) });
    let peeks = 0;
    const isAvailable = h.deps.breakers.isAvailable.bind(h.deps.breakers);
    h.deps.breakers.isAvailable = (id, nowMs) => {
      peeks++;
      return isAvailable(id, nowMs);
    };
    const r = served(await h.run(request()));
    expect(h.sent.map((s) => s.provider)).toEqual(["p09999", "p09998"]);
    expect(r.offer.providerId).toBe("p09998");
    expect(peeks).toBeLessThanOrEqual(3);
  });

  it("still names every exclusion when nobody can serve", async () => {
    const offers = Array.from({ length: 1_000 }, (_, i) => ({
      ...offer(`p${i}`, BigInt(i + 1)),
      suspended: i % 2 === 0,
      waitingRequests: 8,
    }));
    const h = harness(offers, {});
    const err = failed(await h.run(request()));
    expect(err.status).toBe(503);
    expect(err.message).toContain("500 suspended, 500 overloaded");
  });
});
