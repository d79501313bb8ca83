import { describe, expect, it } from "vitest";
import type { CpuPerRequest, NonStreamRow, StreamRow } from "./gateway-measure";
import { hotPathGoals, streamMode, verdict } from "./gateway-goals";
import type { FirstByteProbe } from "./gateway-postgres";
import type { TargetName } from "./gateway-settings";
import type { Percentiles } from "./load";

const p = (p50: number): Percentiles => ({ p50, p99: p50 * 2, mean: p50, n: 100 });
const cpu = (over: Partial<CpuPerRequest> = {}): CpuPerRequest => ({
  gatewayUs: 0,
  bareUs: 0,
  engineUs: 0,
  postgresUs: 0,
  wsproxyUs: 0,
  coreBusyPct: [],
  otherLoadPct: 0,
  pgSessionsPer1k: 0,
  ...over,
});
const ns = (concurrency: number, target: TargetName, rps: number, p50: number, extra: Partial<NonStreamRow> = {}): NonStreamRow => ({
  concurrency,
  target,
  result: { rps, latencyMs: p(p50), ok: rps * 5, non2xx: 0, errors: 0, timeouts: 0, durationSec: 5 },
  cpu: cpu(),
  ...extra,
});
const st = (c: number, target: TargetName, ttft: number): StreamRow => ({
  target,
  mode: streamMode(c),
  streams: 50,
  ttftMs: p(ttft),
  tokensPerSec: p(2000),
  totalMs: p(40),
  otherLoadPct: 0,
});
const probe = (reads: number): FirstByteProbe => ({
  requests: 100,
  seconds: 6,
  readsBeforeFirstByte: reads,
  recurringReadsBeforeFirstByte: reads / 2,
  writesBeforeFirstByte: 0,
  otherBeforeFirstByte: 0,
  readsAfter: 0,
  writesAfter: 0,
  statements: [],
});
const pg = (writes: number) => ({ reads: 0, writes, other: 0, statements: [] });

function run(o: {
  gatewayRps: number;
  gatewayP50: number;
  ttft1: number;
  ttft32: number;
  gatewayCpu: number;
  writes: number;
  reads: number;
  portkeyRps?: number;
}) {
  const nonStream = [
    ns(1, "direct", 1000, 1.0),
    ns(1, "bare proxy", 500, 2.6),
    ns(1, "gateway", 300, o.gatewayP50),
    ns(1, "gateway, admission off", 400, 3.0),
    ns(32, "direct", 5000, 6),
    ns(32, "bare proxy", 2000, 15),
    ns(32, "gateway", o.gatewayRps, 30, { cpu: cpu({ gatewayUs: o.gatewayCpu }), pg: pg(o.writes) }),
    ns(32, "gateway, admission off", 700, 25, { pg: pg(0) }),
    ...(o.portkeyRps === undefined ? [] : [ns(1, "portkey", 250, 4), ns(32, "portkey", o.portkeyRps, 40)]),
  ];
  nonStream[5]!.cpu = cpu({ bareUs: 1000 });
  const streamRows = [
    st(1, "direct", 1),
    st(1, "bare proxy", 2),
    st(1, "gateway", o.ttft1),
    st(1, "gateway, admission off", 3),
    st(32, "direct", 5),
    st(32, "bare proxy", 11),
    st(32, "gateway", o.ttft32),
    st(32, "gateway, admission off", 12),
  ];
  return hotPathGoals({ nonStream, streamRows, firstByte: probe(o.reads) });
}

describe("hotPathGoals", () => {
  const good = { gatewayRps: 1700, gatewayP50: 3.5, ttft1: 3.9, ttft32: 20.5, gatewayCpu: 1400, writes: 800, reads: 0, portkeyRps: 800 };

  it("judges each goal against the floor measured in the same run", () => {
    const g = run(good);
    expect(g.map((x) => [x.judged, x.met])).toEqual([
      ["85 %", true], // 1,700 of the floor's 2,000 req/s
      ["2.13×", true], // 85 % of the floor against Portkey's 40 % (800 req/s)
      ["+0.90 ms", true], // (3.5 − 1.0) − (2.6 − 1.0): gateway minus floor, both over the engine directly
      ["+1.90 ms", true], // TTFT at concurrency 1: (3.9 − 1) − (2 − 1)
      ["+9.50 ms", true], // TTFT at concurrency 32: (20.5 − 5) − (11 − 5)
      ["1.40×", true], // 1,400 µs against the floor's 1,000 µs
      ["0.94", true], // 800 writes in 8,500 requests: 0.94 per 10
      ["0.000", true],
    ]);
    expect(g[2]).toMatchObject({ gateway: "+2.50 ms", floor: "+1.60 ms", admissionOff: "+2.00 ms" });
    expect(g[0]).toMatchObject({ floor: "100 % (2,000 req/s)", admissionOff: "35 % (700 req/s)" });
    expect(g[1]).toMatchObject({
      gateway: "85 % (2.13× Portkey's)",
      floor: "Portkey: 40 % (800 req/s)",
      admissionOff: "35 % (0.87× Portkey's)",
    });
    expect(g[7]?.gateway).toBe("0.000 (0.000 recurring, 0.000 occasional)");
  });

  it("says not met past each bound", () => {
    const g = run({
      gatewayRps: 1500,
      gatewayP50: 3.7,
      ttft1: 4.1,
      ttft32: 21.5,
      gatewayCpu: 1600,
      writes: 900,
      reads: 1,
      portkeyRps: 800,
    });
    expect(g.map((x) => x.met)).toEqual([false, false, false, false, false, false, false, false]);
    expect(g[1]?.judged).toBe("1.88×"); // 75 % against Portkey's 40 %: under 2×
    expect(g.map((x) => verdict(x.met))).toContain("**not met**");
    expect(g[7]?.gateway).toBe("0.010 (0.005 recurring, 0.005 occasional)");
  });

  it("says not measured against Portkey when Portkey was not measured, and judges the rest", () => {
    const { portkeyRps: _, ...withoutPortkey } = good;
    const g = run(withoutPortkey);
    expect(g[1]).toMatchObject({ floor: "Portkey: n/a (n/a req/s)", judged: "n/a", met: null });
    expect(g.filter((x) => x !== g[1]).every((x) => x.met === true)).toBe(true);
  });

  it("says not measured when a figure is missing", () => {
    const g = hotPathGoals({ nonStream: [], streamRows: [], firstByte: null });
    expect(g.every((x) => x.met === null)).toBe(true);
    expect(verdict(null)).toBe("not measured");
  });
});
