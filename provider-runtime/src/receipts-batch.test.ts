import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { decodeSignedReceipt, receiptDigest, receiptDigesterFor, receiptDomain, verifyReceipt } from "../../workers/core/protocol/receipt";
import { BatchSigners } from "../../workers/core/protocol/receipt-batch";
import { receiptBatchTree } from "./receipt-tree";
import { loadKeccak, sortedPairHash } from "./keccak";
import { createReceiptSigner, DEFAULT_MAX_BATCH, type ReceiptSignerOptions, type Served } from "./receipts";

const CHAIN_ID = 31337;
const served = (i: number): Served => ({
  requestId: `gen-${i}`,
  model: "m",
  promptTokens: 5,
  completionTokens: i,
  responseHash: `0x${"cd".repeat(32)}`,
});

function signerWith(o: Partial<ReceiptSignerOptions> = {}, withKey = true) {
  const privateKey = generatePrivateKey();
  const account = privateKeyToAccount(privateKey);
  const signer = createReceiptSigner({
    account,
    ...(withKey ? { privateKey } : {}),
    chainId: CHAIN_ID,
    gateway: account.address,
    inputPriceMicro: 1n,
    outputPriceMicro: 2n,
    ...o,
  });
  return { signer, address: account.address };
}

const verifies = (wire: string, address: `0x${string}`, signers?: BatchSigners) => {
  const d = decodeSignedReceipt(wire)!;
  return verifyReceipt(receiptDomain(CHAIN_ID), d.receipt, d.signature, address, { batch: d.batch, ...(signers ? { signers } : {}) });
};

describe("the WebAssembly keccak", () => {
  it("gives the same receipt digests and batch trees as viem's", async () => {
    const keccak = await loadKeccak();
    const { address } = signerWith();
    const domain = receiptDomain(CHAIN_ID);
    const receipts = Array.from({ length: 9 }, (_, i) => ({
      ...served(i),
      requestId: `gen-${"é".repeat(i)}-${i}`, // non-ASCII ids too: the digest hashes UTF-8
      promptTokens: i,
      inputPrice: BigInt(i),
      outputPrice: 2n ** 63n + BigInt(i),
      provider: address,
      gateway: address,
      timestamp: BigInt(Date.now() + i),
    }));
    const digests = receipts.map((r) => receiptDigest(domain, r));
    expect(receipts.map((r) => receiptDigesterFor(domain, keccak)(r))).toEqual(digests);
    const tree = receiptBatchTree(digests, sortedPairHash(keccak));
    expect(tree).toEqual(receiptBatchTree(digests));
    // The library's own class builds the same root (leaves in the given order), and checks every path the agent hands out.
    expect(tree.root).toBe(SimpleMerkleTree.of(digests, { sortLeaves: false }).root);
    digests.forEach((d, i) => expect(SimpleMerkleTree.verify(tree.root, d, tree.paths[i]!)).toBe(true));
  });
});

describe("the agent's receipt signer", () => {
  it("signs a receipt asked for alone with its own signature (no batch)", async () => {
    const { signer, address } = signerWith();
    const wire = await signer.sign(served(1));
    expect(decodeSignedReceipt(wire)!.batch).toBeUndefined();
    expect(await verifies(wire, address)).toBe(true);
  });

  it.each([
    ["the wallet key and the WebAssembly keccak", true, true],
    ["the wallet key", true, false],
    ["only the account", false, false],
  ])("signs receipts asked for in the same turn under one root, each verifiable (%s)", async (_, withKey, wasm) => {
    const { signer, address } = signerWith(wasm ? { keccak: await loadKeccak() } : {}, withKey);
    const wires = await Promise.all(Array.from({ length: 33 }, (_, i) => signer.sign(served(i))));
    const decoded = wires.map((w) => decodeSignedReceipt(w)!);
    expect(decoded.map((d) => d.receipt.requestId)).toEqual(Array.from({ length: 33 }, (_, i) => `gen-${i}`));
    expect(new Set(decoded.map((d) => d.batch?.root)).size).toBe(1);
    expect(new Set(decoded.map((d) => d.signature)).size).toBe(1);
    const signers = new BatchSigners();
    for (const w of wires) expect(await verifies(w, address, signers)).toBe(true);
    expect(signers.size).toBe(1);
  });

  it("caps a batch at maxBatch, and signs every receipt alone with maxBatch 1", async () => {
    const { signer, address } = signerWith({ maxBatch: 4 });
    const wires = await Promise.all(Array.from({ length: 10 }, (_, i) => signer.sign(served(i))));
    const roots = wires.map((w) => decodeSignedReceipt(w)!.batch?.root);
    expect([new Set(roots.slice(0, 4)).size, new Set(roots.slice(4, 8)).size, roots[8], roots[9]]).toEqual([1, 1, roots[8], roots[9]]);
    expect(new Set(roots.filter(Boolean)).size).toBe(3);
    for (const w of wires) expect(await verifies(w, address)).toBe(true);

    const alone = signerWith({ maxBatch: 1 });
    const single = await Promise.all(Array.from({ length: 5 }, (_, i) => alone.signer.sign(served(i))));
    expect(single.every((w) => decodeSignedReceipt(w)!.batch === undefined)).toBe(true);
    expect(new Set(single.map((w) => decodeSignedReceipt(w)!.signature)).size).toBe(5);
    expect(DEFAULT_MAX_BATCH).toBeGreaterThan(1);
  });

  it("starts a new batch for receipts asked for after the turn that signed the last", async () => {
    const { signer } = signerWith();
    const first = await Promise.all([signer.sign(served(1)), signer.sign(served(2))]);
    const second = await Promise.all([signer.sign(served(3)), signer.sign(served(4))]);
    const root = (w: string) => decodeSignedReceipt(w)!.batch!.root;
    expect(root(first[0]!)).toBe(root(first[1]!));
    expect(root(second[0]!)).toBe(root(second[1]!));
    expect(root(first[0]!)).not.toBe(root(second[0]!));
  });

  it("fails only the receipt it cannot sign, not the ones batched with it", async () => {
    const { signer, address } = signerWith();
    const bad = { ...served(1), responseHash: "0xnothex" as `0x${string}` };
    const results = await Promise.allSettled([signer.sign(bad), signer.sign(served(2)), signer.sign(served(3))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    for (const r of results) if (r.status === "fulfilled") expect(await verifies(r.value, address)).toBe(true);
    expect(decodeSignedReceipt(await signer.sign(served(3)))).not.toBeNull();
  });
});
