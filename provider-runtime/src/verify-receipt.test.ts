/** verifyReceipt's four checks (signature, leaf, proof, on-chain root) against an honest and a dishonest gateway. */
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, stringToHex, type Hex } from "viem";
import { receiptDigest, receiptDomain } from "../../workers/core/protocol/receipt";
import { ReceiptBatchTypes } from "../../workers/core/protocol/receipt-batch";
import { describe, expect, it } from "vitest";
import { GatewayReply } from "./gateway-client";
import { verifyReceipt } from "./verify-receipt";
import { BATCH_1, BATCH_2, CHAIN_ID, me, ODD_ID, other, OURS, receipt, useProofGateway } from "./verify-receipt.fixtures";

const gateway = useProofGateway();
const { answers, roots, readRoot, proofOf } = gateway;

const verify = (requestId: string, extra: Partial<Parameters<typeof verifyReceipt>[0]> = {}) =>
  verifyReceipt({ gatewayUrl: gateway.url, account: me, chainId: CHAIN_ID, rpcUrl: "http://127.0.0.1:1", requestId, readRoot, ...extra });

describe("verifyReceipt", () => {
  it("passes every check for our receipt in a settled batch, and names the batch", async () => {
    const result = await verify(OURS);
    expect(result).toEqual({
      ok: true,
      checks: { signature: true, leaf: true, proof: true, onChainRoot: true },
      requestId: OURS,
      batchId: BATCH_1,
      txHash: keccak256(stringToHex("tx-1")),
      root: gateway.root,
      problems: [],
    });
  });

  it("signs the GET for an id that needs percent-encoding, and checks it against our own copy of the receipt", async () => {
    expect((await verify(ODD_ID, { expectReceipt: receipt(ODD_ID) })).ok).toBe(true);
    const mine = receipt(ODD_ID, me.address, { completionTokens: 21 });
    const result = await verify(ODD_ID, { expectReceipt: mine });
    expect(result.checks).toEqual({ signature: true, leaf: false, proof: true, onChainRoot: true });
    expect(result.problems).toEqual([expect.stringContaining("the gateway's receipt differs from ours")]);
  });

  it("fails signature, leaf and proof when the gateway altered a receipt field", async () => {
    const body = proofOf(OURS);
    body.receipt.completionTokens = 2_000;
    answers.set(OURS, { status: 200, body });
    const result = await verify(OURS);
    expect(result.ok).toBe(false);
    expect(result.checks).toEqual({ signature: false, leaf: false, proof: false, onChainRoot: true });
    expect(result.problems).toHaveLength(3);
  });

  it("checks a receipt signed by the batch through its path to the signed root", async () => {
    const domain = receiptDomain(CHAIN_ID);
    const tree = SimpleMerkleTree.of([receiptDigest(domain, receipt(OURS)), receiptDigest(domain, receipt("gen-2"))], {
      sortLeaves: false,
    });
    const root = tree.root as Hex;
    const signature = await me.signTypedData({ domain, types: ReceiptBatchTypes, primaryType: "ReceiptBatch", message: { root } });
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), signature, receipt_batch: { root, proof: tree.getProof(0) } } });
    expect(await verify(OURS)).toMatchObject({ ok: true, checks: { signature: true, leaf: true, proof: true, onChainRoot: true } });
    // Without its path (or with another receipt's) the batch signature is no signature of this receipt.
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), signature, receipt_batch: null } });
    expect((await verify(OURS)).checks.signature).toBe(false);
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), signature, receipt_batch: { root, proof: tree.getProof(1) } } });
    expect((await verify(OURS)).checks.signature).toBe(false);
  });

  it("fails the signature check for a receipt naming another provider", async () => {
    answers.set(OURS, { status: 200, body: { ...proofOf("gen-theirs"), request_id: OURS } });
    const result = await verify(OURS);
    expect(result.checks.signature).toBe(false);
    expect(result.problems[0]).toBe(`the receipt names provider ${other.address}, not ${me.address}`);
  });

  it("fails the leaf check when the gateway answers about another of our receipts", async () => {
    answers.set(OURS, { status: 200, body: proofOf("gen-2") });
    const result = await verify(OURS);
    expect(result.checks).toEqual({ signature: true, leaf: false, proof: true, onChainRoot: true });
    expect(result.problems).toEqual(['the gateway answered with the receipt of request "gen-2"']);
  });

  it("fails the proof check for a proof of another leaf or a truncated one", async () => {
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), proof: proofOf("gen-2").proof } });
    expect((await verify(OURS)).checks).toEqual({ signature: true, leaf: true, proof: false, onChainRoot: true });
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), proof: proofOf(OURS).proof.slice(1) } });
    expect((await verify(OURS)).checks.proof).toBe(false);
  });

  it("fails the on-chain check when the contract holds another root, or no batch is settled", async () => {
    roots.set(BATCH_1, keccak256(stringToHex("another root")));
    roots.set(BATCH_2, gateway.root); // matches, but the gateway does not claim it settled: not counted
    const wrong = await verify(OURS);
    expect(wrong).toMatchObject({
      ok: false,
      checks: { signature: true, leaf: true, proof: true, onChainRoot: false },
      batchId: null,
      txHash: null,
    });
    expect(wrong.problems[0]).toContain(`does not hold root ${gateway.root}`);

    roots.set(BATCH_1, gateway.root);
    const body = proofOf(OURS);
    body.batches = body.batches.map((b) => ({ ...b, status: "sending" }));
    answers.set(OURS, { status: 200, body });
    expect((await verify(OURS)).problems).toEqual(["no batch of period 7 is settled yet"]);
  });

  it("reads the root from a pinned contract instead of the one the gateway names", async () => {
    const pinned = "0x00000000000000000000000000000000000000B2";
    const seen: string[] = [];
    const result = await verify(OURS, { settlement: pinned, readRoot: async (s) => (seen.push(s), gateway.root) });
    expect(result.ok).toBe(true);
    expect(seen).toEqual([pinned]);
  });

  it("throws the gateway's refusal: 404 for no such receipt of ours, 409 before its period closes", async () => {
    for (const [id, status] of [
      ["gen-unknown", 404],
      ["gen-pending", 409],
    ] as const) {
      const err = await verify(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayReply);
      expect((err as GatewayReply).status).toBe(status);
    }
  });
});
