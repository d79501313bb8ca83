import { type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  decodeSignedReceipt,
  encodeSignedReceipt,
  receiptDigest,
  receiptDomain,
  signReceipt,
  verifyReceipt,
  type Receipt,
} from "./receipt";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { BatchSigners, inReceiptBatch, MAX_BATCH_DEPTH, receiptBatchDigest, ReceiptBatchTypes } from "./receipt-batch";
import { verifyProof } from "../settlement/merkle";

// Anvil's well-known dev keys: test-only.
const provider = privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const other = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const domain = receiptDomain(31337);

const receipt = (i: number): Receipt => ({
  requestId: `gen-batch-${i}`,
  model: "m",
  promptTokens: 10 + i,
  completionTokens: 20 + i,
  inputPrice: 100_000n,
  outputPrice: 200_000n,
  provider: provider.address,
  gateway: other.address,
  responseHash: `0x${i.toString(16).padStart(64, "0")}`,
  timestamp: 1_750_000_000_000n + BigInt(i),
});

/** A batch signed as the agent signs it: one signature over the root, a path per receipt. */
async function signedBatch(receipts: Receipt[], signer = provider) {
  const tree = SimpleMerkleTree.of(receipts.map((r) => receiptDigest(domain, r)));
  const root = tree.root as Hex;
  const paths = receipts.map((_, i) => tree.getProof(i) as Hex[]);
  const signature = await signer.signTypedData({ domain, types: ReceiptBatchTypes, primaryType: "ReceiptBatch", message: { root } });
  return receipts.map((r, i) => ({ receipt: r, signature, batch: { root, proof: paths[i]! } }));
}

describe("receipts signed by the batch", () => {
  it("verify one by one: each digest's path leads to the signed root", async () => {
    const receipts = Array.from({ length: 7 }, (_, i) => receipt(i));
    const signed = await signedBatch(receipts);
    expect(new Set(signed.map((s) => s.batch.root)).size).toBe(1);
    expect(signed.map((s) => s.batch.proof.length)).toEqual(expect.arrayContaining([3])); // ⌈log2 7⌉ levels
    for (const s of signed) {
      expect(await verifyReceipt(domain, s.receipt, s.signature, provider.address, { batch: s.batch })).toBe(true);
      // The settlement tree's proof checker agrees (same SimpleMerkleTree rules).
      expect(verifyProof(s.batch.root, receiptDigest(domain, s.receipt), s.batch.proof)).toBe(true);
    }
  });

  it("round-trips through the wire form, which carries the path", async () => {
    const [s] = await signedBatch([receipt(1), receipt(2)]);
    const decoded = decodeSignedReceipt(encodeSignedReceipt(s!.receipt, s!.signature, s!.batch))!;
    expect(decoded.batch).toEqual(s!.batch);
    expect(await verifyReceipt(domain, decoded.receipt, decoded.signature, provider.address, { batch: decoded.batch })).toBe(true);
    expect(decodeSignedReceipt(encodeSignedReceipt(s!.receipt, s!.signature))!.batch).toBeUndefined();
  });

  it("refuses a changed receipt, another receipt's path, another root, signer or chain", async () => {
    const [a, b] = await signedBatch([receipt(1), receipt(2), receipt(3)]);
    const ok = (r: Receipt, sig: Hex, batch: { root: Hex; proof: Hex[] }, who: Hex = provider.address, d = domain) =>
      verifyReceipt(d, r, sig, who, { batch });
    expect(await ok({ ...a!.receipt, completionTokens: 999 }, a!.signature, a!.batch)).toBe(false);
    expect(await ok(a!.receipt, a!.signature, b!.batch)).toBe(false);
    const [foreign] = await signedBatch([receipt(8), receipt(9)]);
    expect(await ok(a!.receipt, a!.signature, { ...a!.batch, root: foreign!.batch.root })).toBe(false);
    expect(await ok(a!.receipt, a!.signature, a!.batch, other.address)).toBe(false);
    expect(await ok(a!.receipt, a!.signature, a!.batch, provider.address, receiptDomain(8453))).toBe(false);
    const [byOther] = await signedBatch([receipt(1), receipt(2)], other);
    expect(await ok(byOther!.receipt, byOther!.signature, byOther!.batch)).toBe(false);
  });

  it("keeps the two signature kinds apart: a batch signature is no receipt signature, nor the reverse", async () => {
    const r = receipt(4);
    const alone = await signReceipt(provider, domain, r);
    const [single] = await signedBatch([r]); // a batch of one: the root is the receipt's digest
    expect(single!.batch.root).toBe(receiptDigest(domain, r).toLowerCase());
    expect(await verifyReceipt(domain, r, single!.signature, provider.address)).toBe(false);
    expect(await verifyReceipt(domain, r, alone, provider.address, { batch: single!.batch })).toBe(false);
    expect(await verifyReceipt(domain, r, single!.signature, provider.address, { batch: single!.batch })).toBe(true);
  });

  it("refuses a path deeper than a batch can be, and a malformed one", async () => {
    const [s] = await signedBatch([receipt(1), receipt(2)]);
    const deep = { ...s!.batch, proof: Array.from({ length: MAX_BATCH_DEPTH + 1 }, () => s!.batch.proof[0]!) };
    expect(inReceiptBatch(receiptDigest(domain, s!.receipt), deep)).toBe(false);
    expect(inReceiptBatch(receiptDigest(domain, s!.receipt), { root: s!.batch.root, proof: ["0x12" as Hex] })).toBe(false);
    const wire = JSON.parse(encodeSignedReceipt(s!.receipt, s!.signature, s!.batch));
    expect(decodeSignedReceipt(JSON.stringify({ ...wire, batch: { root: "0x1", proof: [] } }))).toBeNull();
    expect(decodeSignedReceipt(JSON.stringify({ ...wire, batch: deep }))).toBeNull();
  });

  it("recovers a root's signer once and remembers it, within its capacity", async () => {
    const signers = new BatchSigners(2);
    const signed = await signedBatch([receipt(1), receipt(2), receipt(3)]);
    for (const s of signed)
      expect(await verifyReceipt(domain, s.receipt, s.signature, provider.address, { batch: s.batch, signers })).toBe(true);
    expect(signers.size).toBe(1);
    const digest = receiptBatchDigest(domain, signed[0]!.batch.root);
    expect(digest).toMatch(/^0x[0-9a-f]{64}$/);
    for (const i of [10, 20, 30]) {
      const [s] = await signedBatch([receipt(i), receipt(i + 1)]);
      expect(await signers.signerOf(domain, s!.batch.root, s!.signature)).toBe(provider.address);
    }
    expect(signers.size).toBe(2);
    // The remembered answer is keyed by the signature too: another signer's signature over the same root is its own.
    const [mine] = await signedBatch([receipt(40), receipt(41)]);
    const theirs = await other.signTypedData({
      domain,
      types: ReceiptBatchTypes,
      primaryType: "ReceiptBatch",
      message: { root: mine!.batch.root },
    });
    expect(await signers.signerOf(domain, mine!.batch.root, mine!.signature)).toBe(provider.address);
    expect(await signers.signerOf(domain, mine!.batch.root, theirs)).toBe(other.address);
    expect(await signers.signerOf(domain, mine!.batch.root, `0x${"00".repeat(65)}`)).toBeNull();
  });
});
