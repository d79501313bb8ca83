import { describe, expect, it } from "vitest";
import type { Receipt } from "../protocol/receipt";
import { checkReceipt, type GatewayView } from "./receipt-check";

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
