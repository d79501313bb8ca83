import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import type { GatewayView } from "../../core/metering/receipt-check";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import type { Hex } from "viem";
import { encodeSignedReceipt, receiptDigest, receiptDomain, signReceipt, type Receipt } from "../../core/protocol/receipt";
import { BatchSigners, ReceiptBatchTypes } from "../../core/protocol/receipt-batch";
import type { Deps } from "../../ports";
import { judgeInlineReceipt } from "./inline";

const CHAIN = 31337;
const wallet = privateKeyToAccount(generatePrivateKey());
const deps = { cfg: { chainId: CHAIN }, batchSigners: new BatchSigners() } as Deps;
const G = "0x00000000000000000000000000000000000000bb" as const;
const view: GatewayView = {
  requestId: "gen-y",
  model: "m",
  provider: wallet.address,
  gateway: G,
  inputPrice: 100n,
  outputPrice: 200n,
  reported: { promptTokens: 5, completionTokens: 7 },
  deliveredTokens: 7,
};
const receipt = (change: Partial<Receipt> = {}): Receipt => ({
  requestId: "gen-y",
  model: "m",
  promptTokens: 5,
  completionTokens: 7,
  inputPrice: 100n,
  outputPrice: 200n,
  provider: wallet.address,
  gateway: G,
  responseHash: `0x${"00".repeat(32)}`,
  timestamp: 1n,
  ...change,
});
const signed = async (change: Partial<Receipt> = {}) => {
  const r = receipt(change);
  return encodeSignedReceipt(r, await signReceipt(wallet, receiptDomain(CHAIN), r));
};

describe("judgeInlineReceipt", () => {
  it("stores the receipt of this request with its verdict", async () => {
    expect(await judgeInlineReceipt(deps, await signed(), "p1", wallet.address, view)).toMatchObject({
      status: "verified",
      row: { requestId: "gen-y", status: "verified", source: "inline" },
    });
    expect(await judgeInlineReceipt(deps, await signed({ completionTokens: 6 }), "p1", wallet.address, view)).toMatchObject({
      status: "unverified",
      row: { requestId: "gen-y", status: "mismatch" },
      reasons: ["completion tokens"],
    });
  });
  it("stores nothing for another request's receipt replayed with this response: unverified here, its own verdict untouched", async () => {
    expect(await judgeInlineReceipt(deps, await signed({ requestId: "gen-x" }), "p1", wallet.address, view)).toEqual({
      status: "unverified",
      row: null,
      reasons: ["request id"],
    });
  });
  it("verifies a receipt signed by the batch and stores its path; refuses one whose path leads elsewhere", async () => {
    const domain = receiptDomain(CHAIN);
    const batch = [receipt(), receipt({ requestId: "gen-z" }), receipt({ requestId: "gen-w" })];
    const tree = SimpleMerkleTree.of(
      batch.map((r) => receiptDigest(domain, r)),
      { sortLeaves: false },
    );
    const root = tree.root as Hex;
    const signature = await wallet.signTypedData({ domain, types: ReceiptBatchTypes, primaryType: "ReceiptBatch", message: { root } });
    const path = (i: number) => ({ root, proof: tree.getProof(i) as Hex[] });
    expect(await judgeInlineReceipt(deps, encodeSignedReceipt(batch[0]!, signature, path(0)), "p1", wallet.address, view)).toMatchObject({
      status: "verified",
      row: { requestId: "gen-y", status: "verified", signature, batch: path(0) },
    });
    expect(await judgeInlineReceipt(deps, encodeSignedReceipt(batch[0]!, signature, path(1)), "p1", wallet.address, view)).toEqual({
      status: "unverified",
      row: null,
      reasons: ["signature"],
    });
  });
});
