import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  DEPOSITS,
  GRANTS,
  PROTOCOL_FEES,
  balances,
  checkBooks,
  customerAccount,
  depositTransaction,
  feeSplit,
  grantTransaction,
  providerAccount,
  usageTransaction,
  usageTransactionOf,
  adjustmentTransaction,
  type LedgerTransaction,
} from "./ledger";

const RUNS = { numRuns: 200 };
const sum = (xs: Iterable<bigint>): bigint => {
  let s = 0n;
  for (const x of xs) s += x;
  return s;
};

describe("feeSplit", () => {
  it("rounds the fee down and gives the provider the rest", () => {
    expect(feeSplit(1_000n, 250)).toEqual({ feePico: 25n, providerPico: 975n });
    expect(feeSplit(999n, 250)).toEqual({ feePico: 24n, providerPico: 975n }); // 24.975 → 24
    expect(feeSplit(1n, 9_999)).toEqual({ feePico: 0n, providerPico: 1n });
    expect(feeSplit(7n, 10_000)).toEqual({ feePico: 7n, providerPico: 0n });
    expect(feeSplit(7n, 0)).toEqual({ feePico: 0n, providerPico: 7n });
    expect(feeSplit(0n, 5_000)).toEqual({ feePico: 0n, providerPico: 0n });
  });

  it("rejects a negative cost and bps that are not an integer in 0..10000", () => {
    expect(() => feeSplit(-1n, 100)).toThrow(RangeError);
    for (const bps of [-1, 10_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => feeSplit(100n, bps)).toThrow(RangeError);
    }
  });
});

describe("transactions", () => {
  it("usage debits the customer and credits provider and protocol", () => {
    const t = usageTransaction({ requestId: "req-1", accountId: "a", providerId: "p", costPico: 1_000n, feeBps: 250 });
    expect(t).toEqual({
      kind: "usage",
      reference: "req-1",
      postings: [
        { account: "customer:a", amountPico: -1_000n },
        { account: "provider:p", amountPico: 975n },
        { account: PROTOCOL_FEES, amountPico: 25n },
      ],
    });
  });

  it("omits zero postings: no fee at 0 bps, nothing at all for a free request", () => {
    const noFee = usageTransaction({ requestId: "r", accountId: "a", providerId: "p", costPico: 5n, feeBps: 0 });
    expect(noFee.postings.map((p) => p.account)).toEqual(["customer:a", "provider:p"]);
    const free = usageTransaction({ requestId: "r0", accountId: "a", providerId: "p", costPico: 0n, feeBps: 500 });
    expect(free.postings).toEqual([]);
    expect(checkBooks([free])).toEqual([]);
  });

  it("takes a usage event's recorded fee as it is, and refuses one outside 0..cost", () => {
    const t = usageTransactionOf({ requestId: "r2", accountId: "a", providerId: "p", costPico: 100n, feePico: 7n });
    expect(t.postings).toEqual([
      { account: "customer:a", amountPico: -100n },
      { account: "provider:p", amountPico: 93n },
      { account: PROTOCOL_FEES, amountPico: 7n },
    ]);
    expect(() => usageTransactionOf({ requestId: "r3", accountId: "a", providerId: "p", costPico: 5n, feePico: 6n })).toThrow(RangeError);
    expect(() => usageTransactionOf({ requestId: "r4", accountId: "a", providerId: "p", costPico: 5n, feePico: -1n })).toThrow(RangeError);
  });

  it("grants and deposits move money from their source to the customer", () => {
    expect(grantTransaction({ grantId: "g1", accountId: "a", amountPico: 10n })).toEqual({
      kind: "grant",
      reference: "g1",
      postings: [
        { account: GRANTS, amountPico: -10n },
        { account: "customer:a", amountPico: 10n },
      ],
    });
    expect(depositTransaction({ reference: "0xabc:3", accountId: "a", amountPico: 7n })).toEqual({
      kind: "deposit",
      reference: "0xabc:3",
      postings: [
        { account: DEPOSITS, amountPico: -7n },
        { account: "customer:a", amountPico: 7n },
      ],
    });
  });

  it("rejects grants and deposits that are not positive", () => {
    expect(() => grantTransaction({ grantId: "g", accountId: "a", amountPico: 0n })).toThrow(RangeError);
    expect(() => grantTransaction({ grantId: "g", accountId: "a", amountPico: -5n })).toThrow(RangeError);
    expect(() => depositTransaction({ reference: "d", accountId: "a", amountPico: 0n })).toThrow(RangeError);
  });
});

describe("checkBooks", () => {
  const grant = grantTransaction({ grantId: "g1", accountId: "a", amountPico: 100n });
  const use = usageTransaction({ requestId: "r1", accountId: "a", providerId: "p", costPico: 40n, feeBps: 1_000 });

  it("accepts balanced books", () => {
    expect(checkBooks([grant, use])).toEqual([]);
  });

  it("reports an unbalanced transaction and the non-zero total", () => {
    const bad: LedgerTransaction = { ...use, postings: [...use.postings, { account: PROTOCOL_FEES + "x", amountPico: 1n }] };
    const problems = checkBooks([grant, bad]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/usage "r1" does not balance: postings sum to 1/);
    expect(problems[1]).toMatch(/balances sum to 1/);
  });

  it("reports a duplicate (kind, reference) but allows the same reference under another kind", () => {
    const problems = checkBooks([grant, use, use]);
    expect(problems).toEqual([expect.stringMatching(/usage "r1" is recorded more than once/)]);
    const sameRefOtherKind = grantTransaction({ grantId: "r1", accountId: "a", amountPico: 1n });
    expect(checkBooks([grant, use, sameRefOtherKind])).toEqual([]);
  });

  it("reports an empty reference", () => {
    const anon = grantTransaction({ grantId: "", accountId: "a", amountPico: 1n });
    expect(checkBooks([anon])).toEqual([expect.stringMatching(/empty reference/)]);
  });

  it("reports an account posted twice in one transaction", () => {
    const twice: LedgerTransaction = {
      kind: "grant",
      reference: "g2",
      postings: [
        { account: GRANTS, amountPico: -2n },
        { account: "customer:a", amountPico: 1n },
        { account: "customer:a", amountPico: 1n },
      ],
    };
    expect(checkBooks([twice])).toEqual([expect.stringMatching(/posts to customer:a more than once/)]);
  });

  it("reports usage that credits the customer or debits a provider or the fees", () => {
    const reversed: LedgerTransaction = { ...use, postings: use.postings.map((p) => ({ ...p, amountPico: -p.amountPico })) };
    const problems = checkBooks([reversed]);
    expect(problems).toHaveLength(3); // balanced, but every sign is wrong
    expect(problems[0]).toMatch(/does not debit customer customer:a/);
    expect(problems[1]).toMatch(/debits provider:p/);
    expect(problems[2]).toMatch(/debits protocol:fees/);
    // The same shape is fine for a kind without usage's sign rules.
    expect(checkBooks([{ ...reversed, kind: "settlement" }])).toEqual([]);
  });

  it("reports usage whose customer posting is zero (not a debit)", () => {
    const zero: LedgerTransaction = { kind: "usage", reference: "r0", postings: [{ account: "customer:a", amountPico: 0n }] };
    expect(checkBooks([zero])).toEqual([expect.stringMatching(/does not debit customer customer:a \(0\)/)]);
  });
});

// Random books: grants and usage over a few customers and providers, so accounts collide.
type Event =
  | { type: "grant"; customer: number; amountPico: bigint }
  | { type: "usage"; customer: number; provider: number; costPico: bigint; feeBps: number };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  fc.record({ type: fc.constant("grant" as const), customer: fc.nat(3), amountPico: fc.bigInt({ min: 1n, max: 10n ** 18n }) }),
  fc.record({
    type: fc.constant("usage" as const),
    customer: fc.nat(3),
    provider: fc.nat(2),
    costPico: fc.bigInt({ min: 0n, max: 10n ** 15n }),
    feeBps: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(0, 1, 9_999, 10_000)),
  }),
);

function toTransaction(e: Event, i: number): LedgerTransaction {
  return e.type === "grant"
    ? grantTransaction({ grantId: `g${i}`, accountId: `c${e.customer}`, amountPico: e.amountPico })
    : usageTransaction({
        requestId: `r${i}`,
        accountId: `c${e.customer}`,
        providerId: `p${e.provider}`,
        costPico: e.costPico,
        feeBps: e.feeBps,
      });
}

describe("ledger (properties)", () => {
  it("every transaction sums to zero, the books check out, and balances sum to zero", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
        const txs = events.map(toTransaction);
        for (const t of txs) {
          expect(sum(t.postings.map((p) => p.amountPico))).toBe(0n);
          expect(t.postings.every((p) => p.amountPico !== 0n)).toBe(true);
        }
        expect(checkBooks(txs)).toEqual([]);
        expect(sum(balances(txs).values())).toBe(0n);
      }),
      RUNS,
    );
  });

  it("splits each usage cost exactly, with the fee rounded down by less than one pico", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 10_000 }), (cost, bps) => {
        const { feePico, providerPico } = feeSplit(cost, bps);
        expect(feePico + providerPico).toBe(cost);
        expect(feePico >= 0n && providerPico >= 0n).toBe(true);
        // cost×bps/10000 − fee ∈ [0, 1), scaled by 10000 to stay in integers.
        const slack = cost * BigInt(bps) - feePico * 10_000n;
        expect(slack >= 0n && slack < 10_000n).toBe(true);
        expect(feePico).toBe((cost * BigInt(bps)) / 10_000n);
      }),
      RUNS,
    );
  });

  it("each customer holds grants minus costs; providers and the protocol hold their shares", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
        const bal = balances(events.map(toTransaction));
        // An independent tally from the events themselves, not from the postings.
        const want = new Map<string, bigint>();
        const add = (k: string, v: bigint) => want.set(k, (want.get(k) ?? 0n) + v);
        let fees = 0n;
        let granted = 0n;
        for (const e of events) {
          if (e.type === "grant") {
            add(customerAccount(`c${e.customer}`), e.amountPico);
            granted += e.amountPico;
          } else {
            const fee = (e.costPico * BigInt(e.feeBps)) / 10_000n;
            add(customerAccount(`c${e.customer}`), -e.costPico);
            add(providerAccount(`p${e.provider}`), e.costPico - fee);
            fees += fee;
          }
        }
        for (let c = 0; c <= 3; c++) expect(bal.get(customerAccount(`c${c}`)) ?? 0n).toBe(want.get(customerAccount(`c${c}`)) ?? 0n);
        for (let p = 0; p <= 2; p++) expect(bal.get(providerAccount(`p${p}`)) ?? 0n).toBe(want.get(providerAccount(`p${p}`)) ?? 0n);
        expect(bal.get(PROTOCOL_FEES) ?? 0n).toBe(fees);
        expect(bal.get(GRANTS) ?? 0n).toBe(-granted);
      }),
      RUNS,
    );
  });

  it("checkBooks catches any single tampered posting", () => {
    const nonEmpty = fc.array(eventArb, { minLength: 1, maxLength: 20 }).filter((es) => es.some((e) => e.type === "grant"));
    fc.assert(
      fc.property(
        nonEmpty,
        fc.nat(),
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }).filter((d) => d !== 0n),
        (events, pick, delta) => {
          const txs = events.map(toTransaction);
          const withPostings = txs.filter((t) => t.postings.length > 0); // grants always have two
          const t = withPostings[pick % withPostings.length]!;
          const p = t.postings[pick % t.postings.length]!;
          p.amountPico += delta;
          expect(checkBooks(txs)).toContain(`${t.kind} "${t.reference}" does not balance: postings sum to ${delta}`);
        },
      ),
      RUNS,
    );
  });
});

describe("adjustmentTransaction", () => {
  it("charges or refunds the difference, split like usage, with the fee moving with it", () => {
    const t = adjustmentTransaction({ requestId: "r", accountId: "a", providerId: "p", deltaCostPico: 40n, deltaFeePico: 2n });
    expect(t).toEqual({
      kind: "adjustment",
      reference: "r",
      postings: [
        { account: "customer:a", amountPico: -40n },
        { account: "provider:p", amountPico: 38n },
        { account: PROTOCOL_FEES, amountPico: 2n },
      ],
    });
    const refund = adjustmentTransaction({ requestId: "r2", accountId: "a", providerId: "p", deltaCostPico: -40n, deltaFeePico: -2n });
    expect(refund.postings).toEqual([
      { account: "customer:a", amountPico: 40n },
      { account: "provider:p", amountPico: -38n },
      { account: PROTOCOL_FEES, amountPico: -2n },
    ]);
    expect(checkBooks([t, refund])).toEqual([]);
    const bad = (deltaCostPico: bigint, deltaFeePico: bigint) => () =>
      adjustmentTransaction({ requestId: "r", accountId: "a", providerId: "p", deltaCostPico, deltaFeePico });
    expect(bad(0n, 0n)).toThrow(RangeError);
    expect(bad(5n, 6n)).toThrow(RangeError);
    expect(bad(-5n, -6n)).toThrow(RangeError);
    expect(bad(5n, -1n)).toThrow(RangeError);
  });
});
