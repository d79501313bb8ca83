import { describe, expect, it } from "vitest";
import {
  freshnessWindowMs,
  isAlive,
  isFresh,
  judgeProbe,
  lacksStake,
  PROBE_INTERVAL_MS,
  PROBED_FRESH_MS,
  type ProbeAnswer,
} from "./health";

const WALLET = "0x00000000000000000000000000000000000000b1";
const policy = { heartbeatFreshMs: 30_000, probedFreshMs: PROBED_FRESH_MS };
const failed = (status: number | null, retryAfterMs: number | null = null): ProbeAnswer => ({ answered: false, status, retryAfterMs });

describe("freshness", () => {
  it("spans the probe interval with margin for an operator-vouched provider, the heartbeat window for a wallet", () => {
    expect(PROBED_FRESH_MS).toBeGreaterThanOrEqual(2 * PROBE_INTERVAL_MS);
    expect(freshnessWindowMs({ address: null }, policy)).toBe(PROBED_FRESH_MS);
    expect(freshnessWindowMs({ address: WALLET }, policy)).toBe(30_000);
    // Probed just before the next cron (and one cron late): still fresh.
    expect(isFresh({ address: null, lastHeartbeatMs: 0 }, 2 * PROBE_INTERVAL_MS - 1, policy)).toBe(true);
    expect(isFresh({ address: null, lastHeartbeatMs: 0 }, PROBED_FRESH_MS + 1, policy)).toBe(false);
    expect(isFresh({ address: WALLET, lastHeartbeatMs: 0 }, 30_001, policy)).toBe(false);
  });

  it("never gives a probed provider less than the heartbeat window", () => {
    expect(freshnessWindowMs({ address: null }, { heartbeatFreshMs: 600_000, probedFreshMs: 1 })).toBe(600_000);
  });
});

describe("stake", () => {
  it("is required of a provider with a wallet, never of an operator-vouched one", () => {
    expect(lacksStake({ address: WALLET, stakeOk: false })).toBe(true);
    expect(lacksStake({ address: WALLET, stakeOk: true })).toBe(false);
    expect(lacksStake({ address: null, stakeOk: false })).toBe(false);
  });
});

describe("judgeProbe", () => {
  it("an answer is up", () => {
    expect(judgeProbe({ answered: true }, 0)).toEqual({ kind: "up" });
  });

  it("a 429 is busy, paused until its Retry-After (or a default), and alive", () => {
    expect(judgeProbe(failed(429, 5_000), 1_000)).toEqual({ kind: "busy", pauseUntilMs: 6_000 });
    expect(judgeProbe(failed(429), 1_000, 2_000)).toEqual({ kind: "busy", pauseUntilMs: 3_000 });
    expect(isAlive(judgeProbe(failed(429), 0))).toBe(true);
  });

  it.each([400, 401, 404, 413, 422])("a %i is a misfit: the probe is wrong for the provider, which is alive", (status) => {
    const v = judgeProbe(failed(status), 0);
    expect(v).toEqual({ kind: "misfit", status });
    expect(isAlive(v)).toBe(true);
  });

  it.each([null, 302, 307, 408, 500, 502, 503])("%s (no answer, a timeout, a redirect, a 5xx) is down", (status) => {
    const v = judgeProbe(failed(status), 0);
    expect(v).toEqual({ kind: "down" });
    expect(isAlive(v)).toBe(false);
  });
});
