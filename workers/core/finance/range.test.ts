import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { pricePerMTokPico, recentHours, reportRange, rollupSegments } from "./range";

const H = 3_600_000;
const D = 24 * H;
const day = (d: number) => Date.UTC(2026, 3, d);

describe("rollupSegments", () => {
  it("answers whole days from day rows alone", () => {
    expect(rollupSegments(day(1), day(31), false)).toEqual([{ grain: "day", fromMs: day(1), toMs: day(31) }]);
  });

  it("reads ragged ends from hour rows, widened to whole hours", () => {
    const from = day(1) + 13 * H + 20 * 60_000; // 13:20
    const to = day(4) + 2 * H + 1; // just after 02:00
    expect(rollupSegments(from, to, false)).toEqual([
      { grain: "hour", fromMs: day(1) + 13 * H, toMs: day(2) },
      { grain: "day", fromMs: day(2), toMs: day(4) },
      { grain: "hour", fromMs: day(4), toMs: day(4) + 3 * H },
    ]);
  });

  it("uses hour rows throughout for an hourly report or a range inside one day", () => {
    expect(rollupSegments(day(1), day(3), true)).toEqual([{ grain: "hour", fromMs: day(1), toMs: day(3) }]);
    expect(rollupSegments(day(1) + H, day(1) + 5 * H, false)).toEqual([{ grain: "hour", fromMs: day(1) + H, toMs: day(1) + 5 * H }]);
  });

  it("needs nothing for an empty or reversed range", () => {
    expect(rollupSegments(day(2), day(2), false)).toEqual([]);
    expect(rollupSegments(day(3), day(2), true)).toEqual([]);
  });

  it("covers every hour the range touches exactly once (property)", () => {
    const t = fc.integer({ min: day(1), max: day(1) + 40 * D });
    fc.assert(
      fc.property(t, t, fc.boolean(), (a, b, hourly) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const covered: number[] = [];
        for (const s of rollupSegments(from, to, hourly)) {
          const step = s.grain === "hour" ? H : D;
          expect(s.fromMs % step).toBe(0);
          for (let x = s.fromMs; x < s.toMs; x += H) covered.push(x);
        }
        const expected: number[] = [];
        if (from < to) for (let x = Math.floor(from / H) * H; x < to; x += H) expected.push(x);
        expect(covered.sort((x, y) => x - y)).toEqual(expected);
      }),
    );
  });
});

describe("recentHours", () => {
  it("is the last n hour buckets, the current one included", () => {
    expect(recentHours(day(2) + 30 * 60_000, 24)).toEqual({ fromMs: day(1) + H, toMs: day(2) + H });
  });
});

describe("pricePerMTokPico", () => {
  it("is cost per million tokens, rounded to the nearest pico; null without tokens", () => {
    expect(pricePerMTokPico(0n, 0n)).toBeNull();
    // 1,000 tokens for 0.0002 USDC = 0.20 USDC per million tokens
    expect(pricePerMTokPico(200_000_000n, 1_000n)).toBe(200_000_000_000n);
    expect(pricePerMTokPico(1n, 3n)).toBe(333_333n); // 333,333.33… rounds down
    expect(pricePerMTokPico(2n, 3n)).toBe(666_667n); // 666,666.67 rounds up
  });
});

describe("reportRange", () => {
  const now = Date.UTC(2026, 10, 26, 15, 30);
  it("defaults to the 30 whole UTC days up to the end of today", () => {
    expect(reportRange({}, now, false)).toEqual({ from: new Date(Date.UTC(2026, 9, 28)), to: new Date(Date.UTC(2026, 10, 27)) });
  });
  it("refuses a reversed range and one longer than the cap (31 days by hour, 400 otherwise)", () => {
    expect(reportRange({ from: new Date(now), to: new Date(now - 1) }, now, false)).toMatchObject({ error: "invalid_range" });
    const to = new Date(Date.UTC(2026, 10, 1));
    expect(reportRange({ from: new Date(to.getTime() - 32 * 86_400_000), to }, now, true)).toMatchObject({ error: "range_too_long" });
    expect(reportRange({ from: new Date(to.getTime() - 32 * 86_400_000), to }, now, false)).not.toHaveProperty("error");
    expect(reportRange({ from: new Date(to.getTime() - 401 * 86_400_000), to }, now, false)).toMatchObject({ error: "range_too_long" });
  });
});
