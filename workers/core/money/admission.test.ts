import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { AccountAdmission } from "./admission";
import { limits, req } from "./admission.fixtures";

const RUNS = { numRuns: 200 };

describe("balance reservations", () => {
  it("admits exactly floor(B/R) concurrent requests, then denies on the account", () => {
    const a = new AccountAdmission(1_050n);
    for (let i = 0; i < 10; i++) expect(a.admit(req(`r${i}`)).ok).toBe(true);
    expect(a.reservedPico).toBe(1_000n);
    expect(a.available).toBe(50n);
    const d = a.admit(req("r10"));
    expect(d).toMatchObject({ ok: false, denial: { kind: "insufficient_quota", scope: "account", availablePico: 50n } });
    expect(a.reservationsList()).toHaveLength(10);
  });

  it("settling releases the reservation and takes the real charge", () => {
    const a = new AccountAdmission(300n);
    for (const id of ["r0", "r1", "r2"]) a.admit(req(id));
    expect(a.available).toBe(0n);
    expect(a.settle("r1", 40n, 0)).toBe(true);
    expect(a.balance).toBe(260n);
    expect(a.reservedPico).toBe(200n);
    expect(a.available).toBe(60n);
    expect(a.reservationsList().map((r) => r.requestId)).toEqual(["r0", "r2"]);
    expect(a.admit(req("r3", { reservePico: 60n })).ok).toBe(true);
    expect(a.admit(req("r4", { reservePico: 1n })).ok).toBe(false);
  });

  it("a retried admission is ok and does not reserve (or count) twice", () => {
    const a = new AccountAdmission(150n);
    const l = limits({ rpm: 10 });
    expect(a.admit(req("r0", { limits: l })).ok).toBe(true);
    const again = a.admit(req("r0", { limits: l }));
    expect(again).toMatchObject({ ok: true, rate: { remainingRequests: 9 } });
    expect(a.reservedPico).toBe(100n);
    expect(a.reservationsList()).toHaveLength(1);
  });

  it("settling an unknown or already settled request returns false and changes nothing", () => {
    const a = new AccountAdmission(500n);
    a.admit(req("r0"));
    expect(a.settle("nope", 10n, 0)).toBe(false);
    expect([a.balance, a.reservedPico]).toEqual([500n, 100n]);
    expect(a.settle("r0", 30n, 0)).toBe(true);
    expect(a.settle("r0", 30n, 0)).toBe(false);
    expect([a.balance, a.reservedPico]).toEqual([470n, 0n]);
  });

  it("rejects a negative charge without touching the reservation", () => {
    const a = new AccountAdmission(500n);
    a.admit(req("r0"));
    expect(() => a.settle("r0", -1n, 0)).toThrow(RangeError);
    expect([a.balance, a.reservedPico]).toEqual([500n, 100n]);
  });

  it("credit raises balance and available, a withdrawal hold lowers them; a zero change throws", () => {
    const a = new AccountAdmission(100n);
    a.admit(req("r0"));
    a.credit(250n);
    expect([a.balance, a.available]).toEqual([350n, 250n]);
    a.credit(-50n);
    expect([a.balance, a.available]).toEqual([300n, 200n]);
    expect(() => a.credit(0n)).toThrow(RangeError);
    expect(a.balance).toBe(300n);
  });
});

describe("expiry", () => {
  it("releases reservations past their ttl without charging them, and reports the earliest expiry", () => {
    const a = new AccountAdmission(1_000n);
    expect(a.nextExpiryMs()).toBeNull();
    a.admit(req("late", { nowMs: 0, ttlMs: 50_000 }));
    a.admit(req("early", { nowMs: 5_000, ttlMs: 10_000 }));
    expect(a.nextExpiryMs()).toBe(15_000);
    expect(a.expire(14_999)).toEqual([]);
    expect(a.expire(15_000).map((r) => r.requestId)).toEqual(["early"]);
    expect([a.balance, a.reservedPico, a.nextExpiryMs()]).toEqual([1_000n, 100n, 50_000]);
    expect(a.settle("early", 10n, 0)).toBe(false);
    expect(a.balance).toBe(1_000n);
  });
});

describe("key budget", () => {
  it("caps a key's loaded spend plus its reservations, and leaves other keys alone", () => {
    const a = new AccountAdmission(10_000n);
    a.loadKey("k1", 700n);
    expect(a.knowsKey("k1")).toBe(true);
    const k1 = limits({ budgetPico: 1_000n });
    expect(a.admit(req("a", { limits: k1, reservePico: 200n })).ok).toBe(true);
    expect(a.admit(req("b", { limits: k1, reservePico: 200n }))).toMatchObject({
      ok: false,
      denial: { kind: "insufficient_quota", scope: "key", availablePico: 100n },
    });
    expect(a.admit(req("c", { limits: limits({ keyId: "k2", budgetPico: 1_000n }), reservePico: 900n })).ok).toBe(true);
    a.settle("a", 50n, 0); // spent 750, nothing reserved: 250 left
    expect(a.admit(req("d", { limits: k1, reservePico: 250n })).ok).toBe(true);
    expect(a.admit(req("e", { limits: k1, reservePico: 1n })).ok).toBe(false);
  });
});

describe("key spend loading", () => {
  it("a key first seen without a budget still has its spend loaded once it gets one; a new period forgets it", () => {
    const a = new AccountAdmission(10_000n);
    expect(a.admit(req("r1", { reservePico: 100n })).ok).toBe(true); // no budget: spend not needed
    expect(a.knowsKey("k1")).toBe(false);
    a.loadKey("k1", 900n);
    expect(a.knowsKey("k1")).toBe(true);
    const d = a.admit(req("r2", { limits: limits({ budgetPico: 1_000n }), reservePico: 500n }));
    expect(d).toMatchObject({ ok: false, denial: { kind: "insufficient_quota", scope: "key" } });
    a.forgetKeySpend();
    expect(a.knowsKey("k1")).toBe(false);
    a.loadKey("k1", 0n);
    expect(a.admit(req("r3", { limits: limits({ budgetPico: 1_000n }), reservePico: 500n })).ok).toBe(true);
  });
});

type Op =
  | { t: "admit"; key: number; amount: bigint; dt: number; ttl: number }
  | { t: "settle"; pick: number; permille: bigint }
  | { t: "expire"; dt: number }
  | { t: "credit"; amount: bigint };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("admit" as const),
      key: fc.nat(2),
      amount: fc.bigInt({ min: 0n, max: 10n ** 12n }),
      dt: fc.nat(20_000),
      ttl: fc.integer({ min: 1, max: 90_000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("settle" as const), pick: fc.nat(), permille: fc.bigInt({ min: 0n, max: 1_000n }) }) },
  fc.record({ t: fc.constant("expire" as const), dt: fc.nat(60_000) }),
  fc.record({ t: fc.constant("credit" as const), amount: fc.bigInt({ min: 1n, max: 10n ** 12n }) }),
);

describe("invariants over random interleavings", () => {
  it("keeps available ≥ 0, balance = initial + credits − charges, one charge per request, reservations = admitted − settled − expired", () => {
    const budgetArb = fc.option(fc.bigInt({ min: 0n, max: 3n * 10n ** 12n }), { nil: null });
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 5n * 10n ** 12n }),
        fc.tuple(budgetArb, budgetArb, budgetArb),
        fc.array(opArb, { maxLength: 60 }),
        (initial, budgets, ops) => {
          const a = new AccountAdmission(initial);
          for (let k = 0; k < 3; k++) a.loadKey(`k${k}`, 0n);
          const admitted: { id: string; key: number; amount: bigint; expiresAt: number }[] = [];
          const live = new Set<string>();
          const charged = new Set<string>();
          const spent = [0n, 0n, 0n];
          let now = 0;
          let expected = initial;
          for (const op of ops) {
            if (op.t === "admit") {
              now += op.dt;
              const id = `r${admitted.length}`;
              const byKey = admitted.filter((r) => r.key === op.key && live.has(r.id)).reduce((s, r) => s + r.amount, 0n);
              const budget = budgets[op.key] ?? null;
              const fits = op.amount <= a.available && (budget === null || op.amount <= budget - spent[op.key]! - byKey);
              const d = a.admit({
                requestId: id,
                limits: limits({ keyId: `k${op.key}`, budgetPico: budget }),
                reservePico: op.amount,
                reserveTokens: 10,
                nowMs: now,
                ttlMs: op.ttl,
              });
              expect(d.ok).toBe(fits);
              if (d.ok) {
                admitted.push({ id, key: op.key, amount: op.amount, expiresAt: now + op.ttl });
                live.add(id);
              }
            } else if (op.t === "settle") {
              const r = admitted.length === 0 ? undefined : admitted[op.pick % (admitted.length + 1)];
              const id = r?.id ?? "unknown";
              const charge = r ? (r.amount * op.permille) / 1_000n : 1n;
              const settled = a.settle(id, charge, 5);
              expect(settled).toBe(live.has(id));
              if (settled && r) {
                expect(charged.has(id)).toBe(false);
                charged.add(id);
                live.delete(id);
                spent[r.key]! += charge;
                expected -= charge;
              }
            } else if (op.t === "expire") {
              now += op.dt;
              const due = admitted.filter((r) => live.has(r.id) && r.expiresAt <= now).map((r) => r.id);
              expect(
                a
                  .expire(now)
                  .map((r) => r.requestId)
                  .sort(),
              ).toEqual(due.sort());
              for (const id of due) live.delete(id);
            } else {
              a.credit(op.amount);
              expected += op.amount;
            }
            expect(a.available >= 0n).toBe(true);
            expect(a.balance).toBe(expected);
            expect(
              a
                .reservationsList()
                .map((r) => r.requestId)
                .sort(),
            ).toEqual([...live].sort());
            expect(a.reservedPico).toBe(admitted.filter((r) => live.has(r.id)).reduce((s, r) => s + r.amount, 0n));
          }
        },
      ),
      RUNS,
    );
  });
});
