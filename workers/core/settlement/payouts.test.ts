import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchIdOf, planPayouts, type Earning } from "./payouts";
import { baseToPico } from "./units";

const addr = (i: number) => `0x${(i + 1).toString(16).padStart(40, "0")}`;

describe("planPayouts", () => {
  it("pays whole base units, carries remainders, debts and address-less providers, and puts the fee in part 0", () => {
    const plan = planPayouts({
      earnings: [
        { providerId: "b", address: addr(1), balancePico: 2_500_000n },
        { providerId: "a", address: addr(0), balancePico: 999_999n },
        { providerId: "c", address: null, balancePico: 9_000_000n },
        { providerId: "d", address: addr(3), balancePico: -10n },
      ],
      feesPico: 1_000_001n,
      maxPayoutsPerBatch: 10,
    });
    expect(plan.batches).toHaveLength(1);
    expect(plan.batches[0]!.payouts.map((p) => [p.providerId, p.amountBase])).toEqual([["b", 2n]]);
    expect(plan.batches[0]!.feeBase).toBe(1n);
    expect(plan.batches[0]!.totalBase).toBe(3n);
    expect(plan.carried).toEqual([
      { providerId: "a", pico: 999_999n, reason: "remainder" },
      { providerId: "b", pico: 500_000n, reason: "remainder" },
      { providerId: "c", pico: 9_000_000n, reason: "no_address" },
      { providerId: "d", pico: -10n, reason: "debt" },
    ]);
    expect(plan.feeCarriedPico).toBe(1n);
  });

  it("has nothing to send when nothing reaches one base unit", () => {
    expect(
      planPayouts({ earnings: [{ providerId: "a", address: addr(0), balancePico: 5n }], feesPico: 3n, maxPayoutsPerBatch: 5 }).batches,
    ).toEqual([]);
  });

  it("splits into parts no larger than the cap, and conserves every pico", () => {
    const earning = fc.record({ balancePico: fc.bigInt({ min: -(10n ** 6n), max: 10n ** 15n }), hasAddress: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(earning, { maxLength: 60 }),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.integer({ min: 1, max: 7 }),
        (rows, feesPico, cap) => {
          const earnings: Earning[] = rows.map((r, i) => ({
            providerId: `p${String(i).padStart(3, "0")}`,
            address: r.hasAddress ? addr(i) : null,
            balancePico: r.balancePico,
          }));
          const plan = planPayouts({ earnings, feesPico, maxPayoutsPerBatch: cap });
          const paid = plan.batches.flatMap((b) => b.payouts);
          expect(
            plan.batches.every((b) => b.payouts.length <= cap && b.totalBase === b.payouts.reduce((s, p) => s + p.amountBase, b.feeBase)),
          ).toBe(true);
          expect(new Set(paid.map((p) => p.providerId)).size).toBe(paid.length);
          expect(plan.batches.slice(1).every((b) => b.feeBase === 0n)).toBe(true);
          for (const e of earnings) {
            const out = paid.filter((p) => p.providerId === e.providerId).reduce((s, p) => s + baseToPico(p.amountBase), 0n);
            const kept = plan.carried.filter((c) => c.providerId === e.providerId).reduce((s, c) => s + c.pico, 0n);
            expect(out + kept).toBe(e.balancePico);
          }
          expect(baseToPico(plan.batches[0]?.feeBase ?? 0n) + plan.feeCarriedPico).toBe(feesPico);
        },
      ),
    );
  });
});

describe("batchIdOf", () => {
  it("differs by chain, contract, period and part", () => {
    const s = addr(9) as `0x${string}`;
    const ids = new Set([
      batchIdOf(1, s, 1, 0),
      batchIdOf(2, s, 1, 0),
      batchIdOf(1, addr(8) as `0x${string}`, 1, 0),
      batchIdOf(1, s, 2, 0),
      batchIdOf(1, s, 1, 1),
    ]);
    expect(ids.size).toBe(5);
  });
});
