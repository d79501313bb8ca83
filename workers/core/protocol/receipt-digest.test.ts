import { hashTypedData, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { FIXED_DIGEST, receiptDigest, receiptDomain, ReceiptTypes, type Receipt } from "./receipt";
import { receiptDigester } from "./receipt-digest";

const A = "0x00000000000000000000000000000000000000aa" as const;
const base: Receipt = {
  requestId: "gen-d",
  model: "m",
  promptTokens: 3,
  completionTokens: 4,
  inputPrice: 5n,
  outputPrice: 6n,
  provider: A,
  gateway: A,
  responseHash: `0x${"12".repeat(32)}`,
  timestamp: 7n,
};
const typed = (domain: ReturnType<typeof receiptDomain>, r: Receipt) =>
  hashTypedData({ domain, types: ReceiptTypes, primaryType: "Receipt", message: r });

describe("the fixed-struct receipt digest", () => {
  it("is in use: ReceiptTypes is the struct it encodes", () => {
    expect(FIXED_DIGEST).toBe(true);
  });

  it("equals viem's hashTypedData at the edges of every field, under both domains", () => {
    const variants: Receipt[] = [
      base,
      { ...base, requestId: "gen-ünïcødé-✓-𝄞", model: "模型/名字" },
      { ...base, promptTokens: 2 ** 32 - 1, completionTokens: 0, inputPrice: 2n ** 64n - 1n, outputPrice: 0n, timestamp: 2n ** 64n - 1n },
      { ...base, provider: "0xffffffffffffffffffffffffffffffffffffffff", requestId: "x".repeat(256), responseHash: `0x${"ff".repeat(32)}` },
    ];
    for (const domain of [receiptDomain(31337), receiptDomain(8453, A)]) {
      for (const r of variants) expect(receiptDigest(domain, r)).toBe(typed(domain, r));
    }
  });

  it.each<[string, Partial<Receipt>]>([
    ["a uint32 past its range", { promptTokens: 2 ** 32 }],
    ["a negative count", { completionTokens: -1 }],
    ["a fractional count", { promptTokens: 1.5 }],
    ["a uint64 past its range", { inputPrice: 2n ** 64n }],
    ["a negative price", { outputPrice: -1n }],
    ["a short address", { provider: "0x1234" as Hex }],
    ["a non-hex address", { gateway: `0x${"zz".repeat(20)}` as Hex }],
    ["a short response hash", { responseHash: "0x12" as Hex }],
  ])("throws on %s, as viem's encoder does", (_, change) => {
    const domain = receiptDomain(31337);
    expect(() => receiptDigester(domain)({ ...base, ...change })).toThrow();
    expect(() => typed(domain, { ...base, ...change })).toThrow();
  });
});
