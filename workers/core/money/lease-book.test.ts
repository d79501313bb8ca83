import { describe, expect, it } from "vitest";
import type { KeyLimits } from "./admission";
import { type LeaseAsk, LeasedAdmission, type LeaseUse } from "./lease-book";

const limits = (over: Partial<KeyLimits> = {}): KeyLimits => ({ keyId: "k", rpm: null, tpm: null, budgetPico: null, ...over });
const ask = (over: Partial<LeaseAsk> = {}): LeaseAsk => ({
  leaseId: "L1",
  topUp: false,
  limits: limits(),
  perRequestPico: 10n,
  perRequestTokens: 100,
  wantRequests: 1_000,
  ttlMs: 10_000,
  ...over,
});
const use = (requestId: string, over: Partial<LeaseUse> = {}): LeaseUse => ({
  kind: "use",
  leaseId: "L1",
  requestId,
  keyId: "k",
  endpoint: "chat",
  amountPico: 10n,
  tokens: 100,
  atMs: 0,
  ttlMs: 60_000,
  ...over,
});

describe("lease grants", () => {
  it("a grant takes a quarter of the free balance at most, and all leases together half of free + leased", () => {
    const a = new LeasedAdmission(1_000n);
    expect(a.lease(ask(), 0)).toMatchObject({ addedPico: 250n }); // 25 requests of 10
    expect(a.available).toBe(750n);
    // The second lease: a quarter of 750 would be 187; the half cap (1,000 / 2 − 250 = 250) allows it.
    expect(a.lease(ask({ leaseId: "L2" }), 0)).toMatchObject({ addedPico: 180n });
    // The third: half of (570 + 430) is 500, less the 430 leased: 70 at most.
    expect(a.lease(ask({ leaseId: "L3" }), 0)).toMatchObject({ addedPico: 70n });
    expect(a.lease(ask({ leaseId: "L4" }), 0)).toBeNull(); // nothing left under the half cap
    expect(a.available).toBe(500n); // a direct admission still has half of the account
  });

  it("declines when fewer than two requests fit; never grants an id twice; a top-up of a lease that is gone is null", () => {
    expect(new LeasedAdmission(70n).lease(ask(), 0)).toBeNull(); // a quarter is 17: one request
    const a = new LeasedAdmission(1_000n);
    expect(a.lease(ask(), 0)).not.toBeNull();
    expect(a.lease(ask(), 0)).toBeNull();
    expect(a.returnLease("L1", null)).toBe(true);
    expect(a.lease(ask({ topUp: true }), 0)).toBeNull();
    expect(a.available).toBe(1_000n);
  });

  it("a top-up adds what was used, never shrinks the lease, and extends its life", () => {
    const a = new LeasedAdmission(1_000n);
    a.lease(ask({ wantRequests: 10 }), 0); // 100
    a.use(use("r1"), 1);
    a.use(use("r2"), 1);
    expect(a.leaseHold("L1")?.amountPico).toBe(80n);
    expect(a.lease(ask({ topUp: true, wantRequests: 10 }), 5_000)).toMatchObject({ addedPico: 20n });
    expect(a.leaseHold("L1")).toMatchObject({ amountPico: 100n, expiresAtMs: 15_000 });
    expect(a.lease(ask({ topUp: true, wantRequests: 2 }), 6_000)).toMatchObject({ addedPico: 0n });
    expect(a.leaseHold("L1")?.amountPico).toBe(100n);
  });

  it("a key's budget caps its leases as it caps its requests", () => {
    const a = new LeasedAdmission(1_000_000n);
    a.loadKey("k", 0n);
    const budgeted = limits({ budgetPico: 200n });
    expect(a.lease(ask({ limits: budgeted }), 0)).toMatchObject({ addedPico: 50n });
    const direct = a.admit({ requestId: "d", limits: budgeted, reservePico: 150n, reserveTokens: 1, nowMs: 0, ttlMs: 1_000 });
    expect(direct.ok).toBe(true); // 200 − 50 leased: the rest is there for a direct call
  });
});

describe("uses, returns and expiry", () => {
  it("a use moves its amount from the lease to the request's own reservation; settling charges it once", () => {
    const a = new LeasedAdmission(1_000n);
    a.lease(ask(), 0);
    const r = a.use(use("r1", { amountPico: 7n }), 10);
    expect(r).toMatchObject({ requestId: "r1", amountPico: 7n, expiresAtMs: 60_010 });
    expect(a.use(use("r1", { amountPico: 7n }), 11)).toBeNull(); // delivered twice: applied once
    expect(a.leaseHold("L1")?.amountPico).toBe(243n);
    expect(a.reservedPico).toBe(250n);
    expect(a.settle("r1", 5n, 50)).toBe(true);
    expect([a.balance, a.reservedPico]).toEqual([995n, 243n]);
    a.returnLease("L1", null);
    expect([a.available, a.leaseCount]).toEqual([995n, 0]);
  });

  it("rate allowance: leased requests and tokens count as taken; a use enters the window when reported; a return frees the rest", () => {
    const a = new LeasedAdmission(1_000_000n);
    const l = limits({ rpm: 40, tpm: 100_000 });
    const g = a.lease(ask({ limits: l }), 0);
    expect(g).toMatchObject({ addedRequests: 10, addedTokens: 1_000 }); // 40 / 4 slots, 10 × 100 tokens
    expect(g?.rate).toMatchObject({ remainingRequests: 30, remainingTokens: 99_000 });
    a.use(use("r1"), 5);
    const d = a.admit({ requestId: "d", limits: l, reservePico: 1n, reserveTokens: 100, nowMs: 6, ttlMs: 1_000 });
    expect(d.rate).toMatchObject({ remainingRequests: 29, remainingTokens: 98_900 }); // 9 leased + r1 + d taken
    a.returnLease("L1", null);
    const e = a.admit({ requestId: "e", limits: l, reservePico: 1n, reserveTokens: 100, nowMs: 7, ttlMs: 1_000 });
    expect(e.rate).toMatchObject({ remainingRequests: 37, remainingTokens: 99_700 });
    // r1 entered the window when it was reported (5), so it ages out at 60,005, not before.
    const late = a.admit({ requestId: "f", limits: l, reservePico: 1n, reserveTokens: 1, nowMs: 60_004, ttlMs: 1_000 });
    expect(late.rate.remainingRequests).toBe(36); // r1, d, e and f itself
  });

  it("a lease the isolate never returns expires in the object with its allowance; a use reported after that is still held", () => {
    const a = new LeasedAdmission(1_000n);
    const l = limits({ rpm: 100 });
    a.lease(ask({ limits: l }), 0);
    expect(a.nextExpiryMs()).toBe(10_000);
    expect(a.expire(10_000).map((r) => r.requestId)).toEqual(["lease:L1"]);
    expect([a.available, a.leaseCount]).toEqual([1_000n, 0]);
    const d = a.admit({ requestId: "d", limits: l, reservePico: 1n, reserveTokens: 1, nowMs: 10_001, ttlMs: 1_000 });
    expect(d.rate.remainingRequests).toBe(99);
    expect(a.use(use("late"), 10_002)).not.toBeNull(); // it runs: its reservation is held, the books get its charge
    expect(a.available).toBe(989n);
  });

  it("a return that overtook its lease's uses keeps what they hold until they arrive; then all of it is free", () => {
    const a = new LeasedAdmission(1_000n);
    const l = limits({ rpm: 100 });
    a.lease(ask({ limits: l }), 0); // 250 pico, 25 requests
    a.use(use("r1"), 1);
    // The isolate spent three requests (30 pico); r2 and r3 are in another call, not here yet.
    expect(a.returnLease("L1", { uses: 3, pico: 30n, requests: 3, tokens: 300 })).toBe(true);
    expect(a.leaseHold("L1")?.amountPico).toBe(20n);
    expect(a.available).toBe(1_000n - 10n - 20n);
    const probe = () => a.admit({ requestId: `p${Math.random()}`, limits: l, reservePico: 0n, reserveTokens: 0, nowMs: 3, ttlMs: 1 });
    expect(probe().rate.remainingRequests).toBe(100 - 1 - 2 - 1); // r1, the two on their way, the probe
    expect(a.lease(ask({ limits: l, topUp: true }), 2)).toBeNull(); // a returned lease is not topped up
    a.use(use("r2"), 4);
    a.use(use("r3"), 4);
    expect([a.leaseCount, a.leaseHold("L1")]).toEqual([0, undefined]);
    expect(probe().rate.remainingRequests).toBe(100 - 3 - 2); // r1–r3 and the two probes
  });

  it("a settle that overtook its request's use is applied when the use arrives: charged once", () => {
    const a = new LeasedAdmission(1_000n);
    a.lease(ask(), 0);
    expect(a.settle("r1", 4n, 40, 1)).toBe(false);
    a.use(use("r1"), 2);
    expect([a.balance, a.reservation("r1")]).toEqual([996n, undefined]);
    expect(a.settle("r1", 4n, 40, 3)).toBe(false); // and only once
    expect(a.balance).toBe(996n);
  });
});
