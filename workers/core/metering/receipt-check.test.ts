import { describe, expect, it } from "vitest";
import type { Receipt } from "../protocol/receipt";
import { checkReceipt, sameClaim, type GatewayView } from "./receipt-check";

const A = "0x00000000000000000000000000000000000000aa" as const;
const G = "0x00000000000000000000000000000000000000bb" as const;
const receipt: Receipt = {
  requestId: "gen-1",
  model: "m",
  promptTokens: 5,
  completionTokens: 7,
  inputPrice: 100n,
  outputPrice: 200n,
  provider: A,
  gateway: G,
  responseHash: `0x${"00".repeat(32)}`,
  timestamp: 1n,
};
const seen: GatewayView = {
  requestId: "gen-1",
  model: "m",
  provider: A.toUpperCase().replace("0X", "0x"),
  gateway: G,
  inputPrice: 100n,
  outputPrice: 200n,
  reported: { promptTokens: 5, completionTokens: 7 },
  deliveredTokens: 7,
};

describe("checkReceipt", () => {
  it("accepts a receipt that matches what the gateway saw (addresses compared case-insensitively)", () => {
    expect(checkReceipt(receipt, seen)).toEqual({ ok: true });
  });
  it.each([
    ["request id", { requestId: "gen-2" }],
    ["model", { model: "x" }],
    ["provider", { provider: G }],
    ["gateway", { gateway: A }],
    ["price", { outputPrice: 201n }],
    ["prompt tokens", { promptTokens: 6 }],
    ["completion tokens", { completionTokens: 70 }],
  ] as const)("flags a different %s", (reason, change) => {
    expect(checkReceipt({ ...receipt, ...change } as Receipt, seen)).toEqual({ ok: false, reasons: [reason] });
  });
  it("without in-band usage, a receipt may not claim less than was delivered", () => {
    const cut = { ...seen, reported: null, deliveredTokens: 4 };
    expect(checkReceipt({ ...receipt, completionTokens: 4 }, cut)).toEqual({ ok: true });
    expect(checkReceipt({ ...receipt, completionTokens: 6 }, cut)).toEqual({ ok: true }); // generated more than delivered
    expect(checkReceipt({ ...receipt, completionTokens: 3 }, cut).ok).toBe(false);
  });
});

describe("sameClaim", () => {
  it("is the stored claim sent again or signed again later (another timestamp, checksummed hash)", () => {
    expect(sameClaim(receipt, receipt)).toBe(true);
    expect(sameClaim({ ...receipt, timestamp: 99n }, receipt)).toBe(true);
    expect(sameClaim({ ...receipt, responseHash: `0x${"AB".repeat(32)}` }, { ...receipt, responseHash: `0x${"ab".repeat(32)}` })).toBe(
      true,
    );
  });
  it("is a conflicting claim for any other count, model, price or response", () => {
    expect(sameClaim({ ...receipt, promptTokens: 6 }, receipt)).toBe(false);
    expect(sameClaim({ ...receipt, completionTokens: 5 }, receipt)).toBe(false);
    expect(sameClaim({ ...receipt, model: "other" }, receipt)).toBe(false);
    expect(sameClaim({ ...receipt, inputPrice: 101n }, receipt)).toBe(false);
    expect(sameClaim({ ...receipt, outputPrice: 201n }, receipt)).toBe(false);
    expect(sameClaim({ ...receipt, responseHash: `0x${"01".repeat(32)}` }, receipt)).toBe(false);
  });
});
