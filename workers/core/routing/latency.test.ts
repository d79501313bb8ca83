import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { aggregateObservations, applyBatch, countsAfterResume, foldObservation, type LatencyObservation } from "./latency";
import type { LatencyStats } from "./types";

describe("foldObservation", () => {
  it("seeds a new row from the first observation", () => {
    expect(foldObservation(undefined, { ok: true, ttftMs: 120, tpotMs: 20 })).toEqual({
      ttftMs: 120,
      tpotMs: 20,
      successRate: 1,
      samples: 1,
    });
  });

  it("moves each average alpha of the way to the observation", () => {
    const prev: LatencyStats = { ttftMs: 100, tpotMs: 10, successRate: 1, samples: 7 };
    const next = foldObservation(prev, { ok: true, ttftMs: 200, tpotMs: 20 }, 0.2, 0.1);
    expect(next.ttftMs).toBeCloseTo(120, 10); // 0.8 × 100 + 0.2 × 200
    expect(next.tpotMs).toBeCloseTo(12, 10);
    expect(next.successRate).toBe(1);
    expect(next.samples).toBe(8);
    expect(foldObservation(prev, { ok: false, ttftMs: null, tpotMs: null }, 0.2, 0.1).successRate).toBeCloseTo(0.9, 10);
  });

  it("one failure after a perfect history stays above the 0.9 routing floor by default", () => {
    const prev: LatencyStats = { ttftMs: 100, tpotMs: 10, successRate: 1, samples: 50 };
    expect(foldObservation(prev, { ok: false, ttftMs: null, tpotMs: null }).successRate).toBeGreaterThanOrEqual(0.9);
  });

  it("a failure without timings leaves the latency averages alone", () => {
    const prev: LatencyStats = { ttftMs: 100, tpotMs: 10, successRate: 1, samples: 7 };
    const next = foldObservation(prev, { ok: false, ttftMs: null, tpotMs: null });
    expect(next.ttftMs).toBe(100);
    expect(next.tpotMs).toBe(10);
    expect(next.samples).toBe(8);
  });

  it("keeps unmeasured figures at 0 (unknown) and seeds them on the first measurement", () => {
    const failedFirst = foldObservation(undefined, { ok: false, ttftMs: null, tpotMs: null });
    expect(failedFirst).toEqual({ ttftMs: 0, tpotMs: 0, successRate: 0, samples: 1 });
    const embedding = foldObservation(failedFirst, { ok: true, ttftMs: 50, tpotMs: null });
    expect(embedding.ttftMs).toBe(50); // seeded, not 0.8 × 0 + 0.2 × 50
    expect(embedding.tpotMs).toBe(0);
  });
});

const obsArb = (oneKey: boolean) =>
  fc.record({
    edge: oneKey ? fc.constant("AMS") : fc.constantFrom("AMS", "SJC"),
    providerId: oneKey ? fc.constant("p1") : fc.constantFrom("p1", "p2"),
    model: fc.constant("m"),
    ok: fc.boolean(),
    ttftMs: fc.option(fc.double({ min: 1, max: 5_000, noNaN: true })),
    tpotMs: fc.option(fc.double({ min: 1, max: 500, noNaN: true })),
    atMs: fc.integer({ min: 0, max: 1_000_000 }),
  });

describe("aggregateObservations", () => {
  it("merges observations into one batch per edge × provider × model", () => {
    const base = { model: "m", ok: true, ttftMs: 100, tpotMs: 10, atMs: 5_000 };
    const batches = aggregateObservations([
      { ...base, edge: "AMS", providerId: "p1" },
      { ...base, edge: "AMS", providerId: "p1", atMs: 4_000 },
      { ...base, edge: "SJC", providerId: "p1" },
      { ...base, edge: "AMS", providerId: "p2", ok: false, ttftMs: null, tpotMs: null },
    ]);
    expect(batches.map((b) => [b.edge, b.providerId, b.count, b.oldestAtMs])).toEqual([
      ["AMS", "p1", 2, 4_000],
      ["SJC", "p1", 1, 5_000],
      ["AMS", "p2", 1, 5_000],
    ]);
    expect(batches[2]!.ttftMs.n).toBe(0);
  });

  it("counts a batch only when none of it is older than the provider's last resume", () => {
    const [b] = aggregateObservations([
      { edge: "AMS", providerId: "p", model: "m", ok: false, ttftMs: null, tpotMs: null, atMs: 1_000 },
      { edge: "AMS", providerId: "p", model: "m", ok: true, ttftMs: 50, tpotMs: null, atMs: 3_000 },
    ]);
    expect(countsAfterResume(b!, null)).toBe(true); // never resumed
    expect(countsAfterResume(b!, 1_000)).toBe(true); // begun in the resume's own millisecond
    expect(countsAfterResume(b!, 1_001)).toBe(false);
    expect(countsAfterResume(b!, 2_000)).toBe(false); // straddles the resume: dropped whole
  });

  it("applied to a row equals folding the observations one by one (property)", () => {
    const prevArb = fc.option(
      fc.record({
        ttftMs: fc.oneof(fc.constant(0), fc.double({ min: 1, max: 5_000, noNaN: true })),
        tpotMs: fc.oneof(fc.constant(0), fc.double({ min: 1, max: 500, noNaN: true })),
        successRate: fc.double({ min: 0, max: 1, noNaN: true }),
        samples: fc.integer({ min: 1, max: 1_000 }),
      }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(prevArb, fc.array(obsArb(true), { minLength: 1, maxLength: 30 }), (prev, list) => {
        const [batch] = aggregateObservations(list as LatencyObservation[]);
        const sequential = list.reduce<LatencyStats | undefined>((s, o) => foldObservation(s, o), prev)!;
        const batched = applyBatch(prev, batch!);
        expect(batched.samples).toBe(sequential.samples);
        expect(batched.ttftMs).toBeCloseTo(sequential.ttftMs, 6);
        expect(batched.tpotMs).toBeCloseTo(sequential.tpotMs, 6);
        expect(batched.successRate).toBeCloseTo(sequential.successRate, 9);
      }),
    );
  });

  it("keeps every observation, split across keys (property)", () => {
    fc.assert(
      fc.property(fc.array(obsArb(false), { maxLength: 50 }), (list) => {
        const batches = aggregateObservations(list as LatencyObservation[]);
        expect(batches.reduce((n, b) => n + b.count, 0)).toBe(list.length);
        expect(new Set(batches.map((b) => `${b.edge}|${b.providerId}`)).size).toBe(batches.length);
      }),
    );
  });
});
