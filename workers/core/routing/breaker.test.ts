import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  admits,
  BreakerBoard,
  type BreakerState,
  DEFAULT_BREAKER_POLICY,
  initialBreaker,
  isAvailable,
  recordFailure,
  recordSuccess,
} from "./breaker";

const policy = DEFAULT_BREAKER_POLICY; // 3 failures, 10 s cooldown

function failTimes(n: number, nowMs = 0): BreakerState {
  let s = initialBreaker();
  for (let i = 0; i < n; i++) s = recordFailure(s, nowMs, policy);
  return s;
}

describe("breaker transitions", () => {
  it("stays closed below the threshold and opens at it", () => {
    expect(failTimes(2)).toMatchObject({ state: "closed", consecutiveFailures: 2 });
    expect(admits(failTimes(2), 0, policy).admit).toBe(true);
    const open = failTimes(3, 1_000);
    expect(open).toMatchObject({ state: "open", openedAtMs: 1_000 });
    expect(admits(open, 1_000, policy).admit).toBe(false);
  });

  it("a success resets the failure count", () => {
    const s = recordFailure(recordSuccess(failTimes(2)), 0, policy);
    expect(s).toMatchObject({ state: "closed", consecutiveFailures: 1 });
  });

  it("refuses during cooldown, then admits exactly one trial", () => {
    const open = failTimes(3, 1_000);
    expect(admits(open, 10_999, policy)).toEqual({ admit: false, next: open });
    const trial = admits(open, 11_000, policy);
    expect(trial.admit).toBe(true);
    expect(trial.next).toMatchObject({ state: "half_open", probeInFlight: true, probeStartedAtMs: 11_000 });
    expect(admits(trial.next, 11_001, policy).admit).toBe(false); // second request waits for the trial
  });

  it("closes when the trial succeeds", () => {
    const trial = admits(failTimes(3, 0), 10_000, policy).next;
    const closed = recordSuccess(trial);
    expect(closed).toEqual(initialBreaker());
    expect(admits(closed, 10_001, policy).admit).toBe(true);
  });

  it("re-opens with a fresh cooldown when the trial fails", () => {
    const trial = admits(failTimes(3, 0), 10_000, policy).next;
    const reopened = recordFailure(trial, 12_000, policy);
    expect(reopened).toMatchObject({ state: "open", openedAtMs: 12_000, probeInFlight: false });
    expect(admits(reopened, 21_999, policy).admit).toBe(false);
    expect(admits(reopened, 22_000, policy).admit).toBe(true);
  });

  it("a late failure while open does not extend the cooldown", () => {
    const open = failTimes(3, 0);
    const late = recordFailure(open, 5_000, policy);
    expect(late.openedAtMs).toBe(0);
    expect(admits(late, 10_000, policy).admit).toBe(true);
  });

  it("hands out a new trial if the last one was never reported", () => {
    const trial = admits(failTimes(3, 0), 10_000, policy).next;
    expect(isAvailable(trial, 19_999, policy)).toBe(false);
    expect(isAvailable(trial, 20_000, policy)).toBe(true);
    expect(admits(trial, 20_000, policy).next.probeStartedAtMs).toBe(20_000);
  });

  it("isAvailable never changes state and agrees with admits (property)", () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant("fail" as const), dt: fc.nat(15_000) }),
      fc.record({ kind: fc.constant("ok" as const), dt: fc.nat(15_000) }),
      fc.record({ kind: fc.constant("attempt" as const), dt: fc.nat(15_000) }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        let s = initialBreaker();
        let now = 0;
        for (const e of events) {
          now += e.dt;
          const before = structuredClone(s);
          const available = isAvailable(s, now, policy);
          expect(s).toEqual(before);
          const a = admits(s, now, policy);
          expect(a.admit).toBe(available);
          if (e.kind === "attempt") s = a.next;
          else if (e.kind === "fail") s = recordFailure(s, now, policy);
          else s = recordSuccess(s);
          expect(s.consecutiveFailures >= 0).toBe(true);
          if (s.state === "closed") expect(s.openedAtMs).toBeNull();
        }
      }),
    );
  });
});

describe("BreakerBoard", () => {
  it("tracks providers independently", () => {
    const board = new BreakerBoard();
    for (let i = 0; i < 3; i++) board.recordFailure("a", 0);
    expect(board.isAvailable("a", 1)).toBe(false);
    expect(board.isAvailable("b", 1)).toBe(true);
    expect(board.get("a").state).toBe("open");
  });

  it("isAvailable peeks; onAttempt takes the single trial", () => {
    const board = new BreakerBoard({ failureThreshold: 1, cooldownMs: 100 });
    board.recordFailure("a", 0);
    expect(board.isAvailable("a", 100)).toBe(true);
    expect(board.isAvailable("a", 100)).toBe(true); // peeking twice takes nothing
    expect(board.onAttempt("a", 100)).toBe(true);
    expect(board.isAvailable("a", 101)).toBe(false);
    expect(board.onAttempt("a", 101)).toBe(false);
    board.recordSuccess("a");
    expect(board.onAttempt("a", 102)).toBe(true);
    expect(board.snapshot()).toEqual([]);
  });

  it("keeps only providers away from the default in its snapshot", () => {
    const board = new BreakerBoard();
    board.recordFailure("a", 0);
    board.onAttempt("b", 0);
    expect(board.snapshot().map(([id]) => id)).toEqual(["a"]);
  });

  it("after an operator's reset, failures of attempts begun before it do not count; later ones do", () => {
    const board = new BreakerBoard({ failureThreshold: 1, cooldownMs: 100 });
    board.reset("a", 1_000);
    board.recordFailure("a", 1_500, 900); // sent before the resume, failed after it
    board.recordFailure("a", 1_500, 999);
    expect(board.isAvailable("a", 1_501)).toBe(true);
    board.recordFailure("a", 1_600, 1_000);
    expect(board.isAvailable("a", 1_601)).toBe(false);
  });
});
