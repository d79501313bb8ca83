import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplayGuard } from "./replay-guard";

describe("ReplayGuard", () => {
  it("accepts an id once within its window, and again after it", () => {
    const g = new ReplayGuard();
    expect(g.checkAndRemember("a", 0, 100)).toBe(true);
    expect(g.checkAndRemember("a", 50, 100)).toBe(false);
    expect(g.checkAndRemember("a", 99, 100)).toBe(false);
    expect(g.checkAndRemember("a", 100, 200)).toBe(true);
    expect(g.checkAndRemember("b", 100, 200)).toBe(true);
  });

  it("does not remember ids whose window already closed", () => {
    const g = new ReplayGuard();
    expect(g.checkAndRemember("a", 100, 100)).toBe(true);
    expect(g.size).toBe(0);
  });

  it("evicts expired ids before live ones", () => {
    const g = new ReplayGuard(2);
    g.checkAndRemember("long", 0, 1_000); // inserted first, still live later
    g.checkAndRemember("short", 0, 50);
    expect(g.checkAndRemember("new", 60, 1_000)).toBe(true);
    expect(g.size).toBe(2);
    expect(g.checkAndRemember("long", 60, 1_000)).toBe(false);
    expect(g.checkAndRemember("new", 60, 1_000)).toBe(false);
  });

  it("when full of live ids, evicts the one whose window closes first", () => {
    const g = new ReplayGuard(2);
    g.checkAndRemember("a", 0, 100);
    g.checkAndRemember("b", 0, 200);
    g.checkAndRemember("c", 0, 300);
    expect(g.size).toBe(2);
    expect(g.checkAndRemember("b", 0, 200)).toBe(false);
    expect(g.checkAndRemember("c", 0, 300)).toBe(false);
    expect(g.checkAndRemember("a", 0, 100)).toBe(true); // forgotten
  });

  it("never holds more than maxEntries", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 50 }))),
        (ops) => {
          const g = new ReplayGuard(5);
          let now = 0;
          for (const [id, dt, ttl] of ops) {
            now += dt;
            g.checkAndRemember(String(id), now, now + ttl);
            expect(g.size).toBeLessThanOrEqual(5);
          }
        },
      ),
    );
  });

  it("agrees with a naive model while under capacity", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 60 }))),
        (ops) => {
          const g = new ReplayGuard(1_000);
          const model = new Map<string, number>();
          let now = 0;
          for (const [n, dt, ttl] of ops) {
            now += dt;
            const id = String(n);
            const expected = !((model.get(id) ?? -1) > now);
            if (expected && ttl > 0) model.set(id, now + ttl);
            expect(g.checkAndRemember(id, now, now + ttl)).toBe(expected);
          }
        },
      ),
    );
  });

  it("rejects a non-positive capacity", () => {
    expect(() => new ReplayGuard(0)).toThrow(RangeError);
  });
});
