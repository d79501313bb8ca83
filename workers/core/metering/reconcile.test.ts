import { describe, expect, it } from "vitest";
import type { Receipt } from "../protocol/receipt";
import { feeSplit } from "../money/ledger";
import {
  CLIENT_LEFT,
  correctedFeePico,
  isCorrectable,
  isProviderCut,
  PROVIDER_CUT,
  ORPHAN_AFTER_MS,
  DEFAULT_RECONCILE_AFTER_MS,
  reconcileReceipt,
  signedCostPico,
  type ReconcileInput,
} from "./reconcile";
import type { BilledUsage, ReservationRecord } from "./records";

const NOW = 1_000_000_000;
const AFTER = DEFAULT_RECONCILE_AFTER_MS;
const IN = 200n,
  OUT = 400n; // pico per token
const receipt: Receipt = {
  requestId: "gen-1",
  model: "m",
  promptTokens: 10,
  completionTokens: 7,
  inputPrice: 1n,
  outputPrice: 1n, // its own prices are ignored
  provider: "0x00000000000000000000000000000000000000aa",
  gateway: "0x00000000000000000000000000000000000000bb",
  responseHash: `0x${"00".repeat(32)}`,
  timestamp: BigInt(NOW - AFTER), // signed at the end of the answer
};
const leftAt3: BilledUsage = {
  accountId: "acct",
  providerId: "p1",
  promptTokens: 10,
  completionTokens: 3,
  costPico: 10n * IN + 3n * OUT,
  feePico: 0n,
  errorCode: CLIENT_LEFT,
};
const lost: ReservationRecord = {
  accountId: "acct",
  keyId: "key",
  endpoint: "chat",
  amountPico: 1_000_000n,
  createdAtMs: NOW - AFTER,
  settled: false,
};
const input = (over: Partial<ReconcileInput> = {}, change: Partial<Receipt> = {}): ReconcileInput => ({
  receipt: { ...receipt, ...change },
  providerId: "p1",
  billed: null,
  reservation: null,
  offer: { inputPrice: IN, outputPrice: OUT },
  feeBps: 500,
  reconcileAfterMs: AFTER,
  nowMs: NOW,
  ...over,
});
const signed = (p: number, c: number) => BigInt(p) * IN + BigInt(c) * OUT;

describe("reconcileReceipt: a request the gateway billed", () => {
  const served: BilledUsage = { ...leftAt3, completionTokens: 7, costPico: signed(10, 7), feePico: 0n, errorCode: null };

  it("verifies a receipt with the billed prompt and at least the billed completion", () => {
    expect(reconcileReceipt(input({ billed: served }))).toEqual({ kind: "verified" });
    expect(reconcileReceipt(input({ billed: served }, { completionTokens: 9 }))).toEqual({ kind: "verified" });
  });
  it("flags other counts, or a bill that went to another provider", () => {
    expect(reconcileReceipt(input({ billed: served }, { promptTokens: 11 }))).toEqual({ kind: "mismatch", reason: "counts" });
    expect(reconcileReceipt(input({ billed: served }, { completionTokens: 6 }))).toEqual({ kind: "mismatch", reason: "counts" });
    expect(reconcileReceipt(input({ billed: { ...served, providerId: "p2" } }))).toEqual({ kind: "mismatch", reason: "other_provider" });
  });
});

describe("reconcileReceipt: a client that left mid-stream", () => {
  it("tops the bill up to the signed counts at the registered price", () => {
    const d = reconcileReceipt(input({ billed: leftAt3 }));
    const cost = signed(10, 7);
    expect(d).toEqual({
      kind: "topUp",
      accountId: "acct",
      promptTokens: 10,
      completionTokens: 7,
      costPico: cost,
      feePico: feeSplit(cost, 500).feePico,
      previousCostPico: leftAt3.costPico,
      previousFeePico: 0n,
    });
  });
  it("refunds when the prompt estimate was above the signed prompt", () => {
    const estimated = { ...leftAt3, promptTokens: 50, costPico: signed(50, 3) };
    const d = reconcileReceipt(input({ billed: estimated }, { completionTokens: 4 }));
    expect(d).toMatchObject({ kind: "topUp", promptTokens: 10, completionTokens: 4, costPico: signed(10, 4) });
  });
  it("never charges more than the reservation", () => {
    const d = reconcileReceipt(input({ billed: leftAt3, reservation: { ...lost, amountPico: 2_500n } }));
    expect(d).toMatchObject({ kind: "topUp", costPico: 2_500n });
  });
  it("verifies without a write when the bill already carries the signed counts (a re-sent receipt)", () => {
    expect(reconcileReceipt(input({ billed: { ...leftAt3, completionTokens: 7 } }))).toEqual({ kind: "verified" });
  });
  it("is a mismatch, not an error, when the provider no longer offers the model", () => {
    expect(reconcileReceipt(input({ billed: leftAt3, offer: null }))).toEqual({ kind: "mismatch", reason: "offer_gone" });
  });
  it("does not correct a bill of another provider, or to fewer tokens than were delivered", () => {
    expect(reconcileReceipt(input({ billed: { ...leftAt3, providerId: "p2" } }))).toEqual({ kind: "mismatch", reason: "other_provider" });
    expect(reconcileReceipt(input({ billed: leftAt3 }, { completionTokens: 2 }))).toEqual({ kind: "mismatch", reason: "counts" });
  });
});

describe("reconcileReceipt: a stream the provider cut", () => {
  // 3 tokens delivered, the prompt billed at the gateway's estimate of 13; the provider signs 10 and the 7 it generated.
  const cutAt3: BilledUsage = { ...leftAt3, promptTokens: 13, costPico: signed(13, 3), feePico: 50n, errorCode: "upstream_stream_ended" };

  it("corrects the prompt estimate to the signed prompt, the completion kept at what was delivered", () => {
    for (const errorCode of PROVIDER_CUT) {
      const d = reconcileReceipt(input({ billed: { ...cutAt3, errorCode } }));
      const cost = signed(10, 3);
      expect(d).toEqual({
        kind: "topUp",
        accountId: "acct",
        promptTokens: 10,
        completionTokens: 3,
        costPico: cost,
        feePico: correctedFeePico(cost, cutAt3, 500),
        previousCostPico: cutAt3.costPico,
        previousFeePico: 50n,
      });
    }
  });
  it("charges more when the signed prompt is above the estimate, capped by the reservation", () => {
    expect(reconcileReceipt(input({ billed: cutAt3 }, { promptTokens: 20 }))).toMatchObject({
      kind: "topUp",
      promptTokens: 20,
      completionTokens: 3,
      costPico: signed(20, 3),
    });
    expect(reconcileReceipt(input({ billed: cutAt3, reservation: { ...lost, amountPico: 3_000n } }, { promptTokens: 20 }))).toMatchObject({
      kind: "topUp",
      costPico: 3_000n,
    });
  });
  it("verifies without a write when the prompt already is the signed one (reported in-band, or corrected before)", () => {
    expect(reconcileReceipt(input({ billed: { ...cutAt3, promptTokens: 10 } }))).toEqual({ kind: "verified" });
    expect(reconcileReceipt(input({ billed: { ...cutAt3, promptTokens: 10 } }, { completionTokens: 3 }))).toEqual({ kind: "verified" });
  });
  it("is a mismatch when the provider no longer offers the model", () => {
    expect(reconcileReceipt(input({ billed: cutAt3, offer: null }))).toEqual({ kind: "mismatch", reason: "offer_gone" });
  });
  it("does not correct a bill of another provider, or a receipt signing fewer tokens than were delivered", () => {
    expect(reconcileReceipt(input({ billed: { ...cutAt3, providerId: "p2" } }))).toEqual({ kind: "mismatch", reason: "other_provider" });
    expect(reconcileReceipt(input({ billed: cutAt3 }, { completionTokens: 2 }))).toEqual({ kind: "mismatch", reason: "counts" });
  });
  it("leaves other failures to the plain judgement: the estimate stands against the signed prompt as a mismatch", () => {
    expect(reconcileReceipt(input({ billed: { ...cutAt3, errorCode: "something_else" } }))).toEqual({ kind: "mismatch", reason: "counts" });
  });
  it("names which bills a receipt may correct", () => {
    expect(PROVIDER_CUT.every(isProviderCut)).toBe(true);
    expect([CLIENT_LEFT, null, "billed_from_receipt"].some(isProviderCut)).toBe(false);
    expect([CLIENT_LEFT, ...PROVIDER_CUT].every(isCorrectable)).toBe(true);
    expect([null, "billed_from_receipt"].some(isCorrectable)).toBe(false);
  });
});

describe("reconcileReceipt: a request with no usage event", () => {
  it("bills a reservation that never reported back, once it is old enough", () => {
    const d = reconcileReceipt(input({ reservation: lost }));
    const cost = signed(10, 7);
    expect(d).toEqual({
      kind: "billFromReceipt",
      accountId: "acct",
      keyId: "key",
      endpoint: "chat",
      costPico: cost,
      feePico: feeSplit(cost, 500).feePico,
    });
    expect(reconcileReceipt(input({ reservation: { ...lost, amountPico: 1_000n } }))).toMatchObject({
      kind: "billFromReceipt",
      costPico: 1_000n,
      feePico: 50n,
    });
  });
  it("waits while the request may still be metered", () => {
    expect(reconcileReceipt(input({ reservation: { ...lost, createdAtMs: NOW - AFTER + 1 } }))).toEqual({ kind: "wait" });
    expect(reconcileReceipt(input({ reservation: { ...lost, settled: true, createdAtMs: NOW - 1 } }))).toEqual({ kind: "wait" });
    expect(reconcileReceipt(input())).toEqual({ kind: "wait" });
  });
  it("waits the configured delay, not a fixed one (RECEIPT_RECONCILE_AFTER_MS)", () => {
    const short = { reconcileAfterMs: 3_000 };
    expect(reconcileReceipt(input({ ...short, reservation: { ...lost, createdAtMs: NOW - 3_000 } }))).toMatchObject({
      kind: "billFromReceipt",
      costPico: signed(10, 7),
    });
    expect(reconcileReceipt(input({ ...short, reservation: { ...lost, createdAtMs: NOW - 2_999 } }))).toEqual({ kind: "wait" });
    expect(reconcileReceipt(input({ reconcileAfterMs: 2 * AFTER, reservation: lost }))).toEqual({ kind: "wait" });
  });
  it("counts from the end of the answer (the receipt's signing), not the admission: a long stream's record may be on its way", () => {
    const longAgo = { ...lost, createdAtMs: NOW - 10 * AFTER };
    expect(reconcileReceipt(input({ reservation: longAgo }, { timestamp: BigInt(NOW - AFTER + 1) }))).toEqual({ kind: "wait" });
    expect(reconcileReceipt(input({ reservation: longAgo }, { timestamp: BigInt(NOW - AFTER) }))).toMatchObject({
      kind: "billFromReceipt",
    });
    // A back-dated receipt does not hurry it: the admission bounds it.
    expect(reconcileReceipt(input({ reservation: { ...lost, createdAtMs: NOW - 1 } }, { timestamp: BigInt(NOW - 5 * AFTER) }))).toEqual({
      kind: "wait",
    });
  });
  it("bills a settled reservation with no usage event: its isolate died after the settle, before the usage flush", () => {
    // The settle queue reaches the account's object within 25 ms, the usage buffer flushes after 1 s.
    expect(reconcileReceipt(input({ reservation: { ...lost, settled: true } }))).toMatchObject({
      kind: "billFromReceipt",
      accountId: "acct",
      keyId: "key",
      costPico: signed(receipt.promptTokens, receipt.completionTokens),
    });
  });
  it("cannot bill from a receipt whose offer is gone: it waits, then is kept as an orphan", () => {
    expect(reconcileReceipt(input({ reservation: lost, offer: null }))).toEqual({ kind: "wait" });
    expect(reconcileReceipt(input({ reservation: lost, offer: null }, { timestamp: BigInt(NOW - ORPHAN_AFTER_MS) }))).toEqual({
      kind: "orphan",
    });
  });
  it("keeps an old receipt the gateway never heard of as an orphan", () => {
    expect(reconcileReceipt(input({}, { timestamp: BigInt(NOW - ORPHAN_AFTER_MS) }))).toEqual({ kind: "orphan" });
    expect(reconcileReceipt(input({}, { timestamp: BigInt(NOW - ORPHAN_AFTER_MS + 1) }))).toEqual({ kind: "wait" });
  });
});

describe("correctedFeePico", () => {
  it("takes the current rate's fee when it stays within the move of the cost", () => {
    expect(correctedFeePico(1_200n, { costPico: 1_000n, feePico: 50n }, 500)).toBe(60n);
    expect(correctedFeePico(800n, { costPico: 1_000n, feePico: 50n }, 500)).toBe(40n);
  });
  it("on a charge: never lowers the fee, never raises it by more than the cost rose", () => {
    expect(correctedFeePico(1_100n, { costPico: 1_000n, feePico: 900n }, 500)).toBe(900n); // wanted 55 − 900 < 0
    expect(correctedFeePico(1_100n, { costPico: 1_000n, feePico: 0n }, 5_000)).toBe(100n); // wanted 550 > +100
  });
  it("on a refund: never raises the fee, never lowers it by more than the cost fell", () => {
    expect(correctedFeePico(800n, { costPico: 1_000n, feePico: 0n }, 500)).toBe(0n); // wanted +40 > 0
    expect(correctedFeePico(800n, { costPico: 1_000n, feePico: 500n }, 0)).toBe(300n); // wanted −500 < −200
  });
  it("leaves the fee alone when the cost did not move", () => {
    expect(correctedFeePico(1_000n, { costPico: 1_000n, feePico: 7n }, 500)).toBe(7n);
  });
});

describe("signedCostPico", () => {
  it("prices the signed counts at the given price, capped when a cap is given", () => {
    expect(signedCostPico({ promptTokens: 2, completionTokens: 3 }, { inputPrice: IN, outputPrice: OUT })).toBe(signed(2, 3));
    expect(signedCostPico({ promptTokens: 2, completionTokens: 3 }, { inputPrice: IN, outputPrice: OUT }, 100n)).toBe(100n);
    expect(signedCostPico({ promptTokens: 2, completionTokens: 3 }, { inputPrice: IN, outputPrice: OUT }, null)).toBe(signed(2, 3));
  });
});
