import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  bucketStart,
  emptyHistogram,
  foldUsage,
  mergeHistograms,
  p50FromHistogram,
  topUpDeltas,
  TTFT_BOUNDS_MS,
  TTFT_BUCKETS,
  ttftBucket,
  type RollupSource,
} from "./rollup";

const T0 = Date.UTC(2026, 3, 1, 13, 20); // 2026-04-01 13:20 UTC
const rec = (over: Partial<RollupSource> = {}): RollupSource => ({
  accountId: "acct-1",
  keyId: "key-1",
  model: "m",
  providerId: "p",
  status: "ok",
  promptTokens: 10,
  completionTokens: 5,
  costPico: 1_000n,
  feePico: 50n,
  ttftMs: 120,
  createdAtMs: T0,
  ...over,
});

describe("TTFT histogram", () => {
  it("puts a value in the bucket whose lower bound it reaches, like Postgres' width_bucket", () => {
    expect(TTFT_BUCKETS).toBe(10);
    expect(ttftBucket(0)).toBe(0);
    expect(ttftBucket(24.9)).toBe(0);
    expect(ttftBucket(25)).toBe(1);
    expect(ttftBucket(120)).toBe(3); // [100, 200)
    expect(ttftBucket(6399)).toBe(8);
    expect(ttftBucket(6400)).toBe(9);
    expect(ttftBucket(1e9)).toBe(9);
  });

  it("merges element-wise, treating a shorter histogram's missing buckets as zeros", () => {
    expect(mergeHistograms([1, 2, 3], [0, 1, 0, 0, 0, 0, 0, 0, 0, 4])).toEqual([1, 3, 3, 0, 0, 0, 0, 0, 0, 4]);
    expect(mergeHistograms(emptyHistogram(), emptyHistogram())).toEqual(emptyHistogram());
  });

  it("reads a median interpolated inside its bucket; null when empty; the open last bucket answers its lower bound", () => {
    expect(p50FromHistogram(emptyHistogram())).toBeNull();
    const h = emptyHistogram();
    h[3] = 10; // ten requests in [100, 200): the median is mid-bucket
    expect(p50FromHistogram(h)).toBe(150);
    const skew = emptyHistogram();
    skew[0] = 1;
    skew[5] = 3; // 4 requests: half = 2 falls 1/3 into [400, 800)
    expect(p50FromHistogram(skew)).toBe(533);
    const slow = emptyHistogram();
    slow[9] = 5;
    expect(p50FromHistogram(slow)).toBe(6400);
  });

  it("places the median within the bucket that holds the true median (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 200 }), (values) => {
        const h = emptyHistogram();
        for (const v of values) h[ttftBucket(v)]! += 1;
        const p50 = p50FromHistogram(h)!;
        const sorted = [...values].sort((a, b) => a - b);
        const lower = sorted[Math.ceil(sorted.length / 2) - 1]!; // the lower median
        const b = ttftBucket(lower);
        const lo = b === 0 ? 0 : TTFT_BOUNDS_MS[b - 1]!;
        const hi = TTFT_BOUNDS_MS[b] ?? lo;
        expect(p50).toBeGreaterThanOrEqual(lo);
        expect(p50).toBeLessThanOrEqual(hi);
      }),
    );
  });
});

describe("foldUsage", () => {
  it("adds each event to its hour and day rows, per account × key × model × provider", () => {
    const deltas = foldUsage([rec(), rec({ ttftMs: 30, costPico: 2_000n, feePico: 100n }), rec({ keyId: "key-2" })]);
    expect(deltas).toHaveLength(4);
    const hour = deltas.find((d) => d.grain === "hour" && d.keyId === "key-1")!;
    expect(hour).toMatchObject({
      bucketMs: Date.UTC(2026, 3, 1, 13),
      accountId: "acct-1",
      model: "m",
      providerId: "p",
      requests: 2,
      failedRequests: 0,
      promptTokens: 20n,
      completionTokens: 10n,
      costPico: 3_000n,
      feePico: 150n,
    });
    expect(hour.ttftHistogram).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    const day = deltas.find((d) => d.grain === "day" && d.keyId === "key-1")!;
    expect(day.bucketMs).toBe(Date.UTC(2026, 3, 1));
    expect(day.requests).toBe(2);
  });

  it("counts a failed request as a request and a failure, with no provider and no first token", () => {
    const [day, hour] = foldUsage([
      rec({ status: "failed", providerId: null, promptTokens: 0, completionTokens: 0, costPico: 0n, feePico: 0n, ttftMs: null }),
    ]);
    expect(hour).toMatchObject({ grain: "hour", providerId: "", requests: 1, failedRequests: 1, costPico: 0n });
    expect(day).toMatchObject({ grain: "day", providerId: "", requests: 1, failedRequests: 1 });
    expect(hour!.ttftHistogram).toEqual(emptyHistogram());
  });

  it("sorts deltas by key so concurrent writers lock rows in one order", () => {
    const deltas = foldUsage([rec({ keyId: "k-b" }), rec({ keyId: "k-a", createdAtMs: T0 + 3_600_000 }), rec({ keyId: "k-a" })]);
    expect(deltas.map((d) => [d.grain, d.bucketMs - Date.UTC(2026, 3, 1), d.keyId])).toEqual([
      ["day", 0, "k-a"],
      ["day", 0, "k-b"],
      ["hour", 13 * 3_600_000, "k-a"],
      ["hour", 13 * 3_600_000, "k-b"],
      ["hour", 14 * 3_600_000, "k-a"],
    ]);
  });

  it("buckets on UTC boundaries", () => {
    const lastMs = Date.UTC(2026, 3, 1, 23, 59, 59, 999);
    expect(bucketStart(lastMs, "hour")).toBe(Date.UTC(2026, 3, 1, 23));
    expect(bucketStart(lastMs, "day")).toBe(Date.UTC(2026, 3, 1));
    expect(bucketStart(lastMs + 1, "day")).toBe(Date.UTC(2026, 3, 2));
  });

  it("sums to the same totals however the events are batched (property)", () => {
    const event = fc.record({
      keyId: fc.constantFrom("k1", "k2"),
      model: fc.constantFrom("m1", "m2"),
      providerId: fc.constantFrom("p1", null),
      status: fc.constantFrom("ok", "partial", "failed") as fc.Arbitrary<RollupSource["status"]>,
      promptTokens: fc.nat(10_000),
      completionTokens: fc.nat(10_000),
      costPico: fc.bigInt({ min: 0n, max: 10n ** 15n }),
      ttftMs: fc.option(fc.nat(10_000)),
      createdAtMs: fc.integer({ min: T0, max: T0 + 3 * 86_400_000 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), fc.nat(60), (events, cut) => {
        const all = events.map((e) => rec({ ...e, feePico: e.costPico / 20n }));
        const merged = new Map<string, ReturnType<typeof foldUsage>[number]>();
        for (const d of [...foldUsage(all.slice(0, cut)), ...foldUsage(all.slice(cut))]) {
          const k = [d.grain, d.bucketMs, d.keyId, d.model, d.providerId].join("|");
          const m = merged.get(k);
          merged.set(
            k,
            m
              ? {
                  ...m,
                  requests: m.requests + d.requests,
                  costPico: m.costPico + d.costPico,
                  ttftHistogram: mergeHistograms(m.ttftHistogram, d.ttftHistogram),
                }
              : d,
          );
        }
        for (const d of foldUsage(all)) {
          const m = merged.get([d.grain, d.bucketMs, d.keyId, d.model, d.providerId].join("|"))!;
          expect([m.requests, m.costPico, m.ttftHistogram]).toEqual([d.requests, d.costPico, d.ttftHistogram]);
        }
        // Every event is in exactly one hour row and one day row.
        const total = (g: string) =>
          foldUsage(all)
            .filter((d) => d.grain === g)
            .reduce((s, d) => s + d.requests, 0);
        expect([total("hour"), total("day")]).toEqual([all.length, all.length]);
      }),
    );
  });
});

describe("topUpDeltas", () => {
  it("moves tokens and money on the event's hour and day rows, never the request count", () => {
    const deltas = topUpDeltas(rec(), { promptTokens: -2n, completionTokens: 7n, costPico: 900n, feePico: 45n });
    expect(deltas.map((d) => [d.grain, d.bucketMs])).toEqual([
      ["day", Date.UTC(2026, 3, 1)],
      ["hour", Date.UTC(2026, 3, 1, 13)],
    ]);
    for (const d of deltas) {
      expect(d).toMatchObject({ requests: 0, failedRequests: 0, promptTokens: -2n, completionTokens: 7n, costPico: 900n, feePico: 45n });
      expect(d.ttftHistogram).toEqual(emptyHistogram());
    }
  });
});
