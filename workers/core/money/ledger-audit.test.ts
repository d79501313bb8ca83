import { describe, expect, it } from "vitest";
import {
  adjustmentTransaction,
  checkBooks,
  depositTransaction,
  grantTransaction,
  settlementTransaction,
  usageTransactionOf,
  withdrawalCloseTransaction,
  withdrawalTransaction,
} from "./ledger";
import { traceProblems, type LedgerSources } from "./ledger-audit";

const usage = { accountId: "a", providerId: "p", costPico: 1_000n, feePico: 50n };
const sources: LedgerSources = {
  usage: new Map([
    ["r1", usage],
    ["r0", { ...usage, costPico: 0n, feePico: 0n }],
  ]),
  grants: new Map([["g1", { accountId: "a", amountPico: 5_000n }]]),
};
const books = [usageTransactionOf({ requestId: "r1", ...usage }), grantTransaction({ grantId: "g1", accountId: "a", amountPico: 5_000n })];

describe("traceProblems", () => {
  it("finds nothing when every transaction is the one its record implies (a free request needs none)", () => {
    expect(traceProblems(books, sources)).toEqual([]);
  });

  it("reports a transaction without a record, one that differs from it, and a charged event without one", () => {
    const altered = {
      ...books[0]!,
      postings: books[0]!.postings.map((p) => (p.account === "protocol:fees" ? { ...p, amountPico: 49n } : p)),
    };
    expect(traceProblems([altered, books[1]!], sources)).toEqual(["usage r1: postings differ from what its record implies"]);
    expect(traceProblems([books[1]!], sources)).toEqual(["usage r1: charged 1000 pico but has no ledger entries"]);
    const stray = usageTransactionOf({ requestId: "r9", ...usage });
    expect(traceProblems([...books, stray], sources)).toEqual(["usage r9: no usage event with this request id"]);
    expect(traceProblems([...books, grantTransaction({ grantId: "g2", accountId: "a", amountPico: 1n })], sources)).toEqual([
      "grant g2: no credit grant with this id",
    ]);
    expect(traceProblems([...books, { kind: "deposit", reference: "0xabc:1", postings: [] }], sources)).toEqual([
      "deposit 0xabc:1: no credited deposit with this reference",
    ]);
  });

  it("reads a usage event's books as its usage transaction plus its adjustment", () => {
    const billedAgain = { ...usage, costPico: 1_300n, feePico: 65n }; // the event after a top-up of 300 (fee 15)
    const src: LedgerSources = { ...sources, usage: new Map([["r1", billedAgain]]) };
    const adjustment = adjustmentTransaction({ requestId: "r1", accountId: "a", providerId: "p", deltaCostPico: 300n, deltaFeePico: 15n });
    expect(checkBooks([...books, adjustment])).toEqual([]);
    expect(traceProblems([...books, adjustment], src)).toEqual([]);
    expect(traceProblems(books, src)).toEqual(["usage r1: postings differ from what its record implies"]); // the top-up is missing
    const stray = adjustmentTransaction({ requestId: "r7", accountId: "a", providerId: "p", deltaCostPico: 1n, deltaFeePico: 0n });
    expect(traceProblems([...books, adjustment, stray], src)).toEqual(["adjustment r7: no usage transaction to adjust"]);
  });

  it("traces deposits, withdrawals and settlements to their records, amount by amount", () => {
    const deposit = depositTransaction({ reference: "31337:0xd:0", accountId: "a", amountPico: 7_000_000n });
    const withdrawal = withdrawalTransaction({ reference: "31337:0xw:1", accountId: "a", amountPico: 2_000_000n });
    const settlement = settlementTransaction({ batchId: "0xb1", providers: [{ providerId: "p", pico: 1_000_000n }], feePico: 0n });
    const src: LedgerSources = {
      ...sources,
      deposits: new Map([["31337:0xd:0", { accountId: "a", amountPico: 7_000_000n }]]),
      withdrawals: new Map([["31337:0xw:1", { accountId: "a", amountPico: 2_000_000n }]]),
      settlements: new Map([["0xb1", { providers: [{ providerId: "p", pico: 1_000_000n }], feePico: 0n }]]),
    };
    expect(checkBooks([...books, deposit, withdrawal, settlement])).toEqual([]);
    expect(traceProblems([...books, deposit, withdrawal, settlement], src)).toEqual([]);
    const overpaid = settlementTransaction({ batchId: "0xb1", providers: [{ providerId: "p", pico: 2_000_000n }], feePico: 0n });
    expect(traceProblems([...books, overpaid], src)).toEqual(["settlement 0xb1: postings differ from what its record implies"]);
    expect(traceProblems([...books, withdrawal], sources)).toEqual(["withdrawal 31337:0xw:1: no withdrawal with this reference"]);
    // Cancelled: the hold comes back, traced to the withdrawal it closed.
    const release = withdrawalCloseTransaction({ reference: "31337:0xc:0", accountId: "a", releasedPico: 2_000_000n });
    const closes = new Map([["31337:0xc:0", { accountId: "a", releasedPico: 2_000_000n }]]);
    expect(checkBooks([...books, withdrawal, release])).toEqual([]);
    expect(traceProblems([...books, withdrawal, release], { ...src, withdrawalCloses: closes })).toEqual([]);
    expect(traceProblems([...books, withdrawal, release], src)).toEqual(["withdrawal 31337:0xc:0: no withdrawal with this reference"]);
  });
});
