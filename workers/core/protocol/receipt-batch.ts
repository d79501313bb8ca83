/**
 * Receipts signed by the batch (SPEC §2.1). Under load the agent signs one EIP-712 `ReceiptBatch`
 * over the Merkle root of the receipts' digests instead of one signature per receipt, and each
 * receipt carries its path to that root: one secp256k1 signature covers every answer that finished
 * in the same turn of the agent's event loop, and a verifier that has recovered a root's signer
 * once checks the root's other receipts by hashing alone. A receipt stays verifiable on its own
 * (its fields, its path, the root's signature).
 *
 * The leaves are the receipts' EIP-712 digests — the same leaves as a settlement period's tree —
 * in OpenZeppelin's SimpleMerkleTree (sorted pairs). A digest hashes 66 bytes and an inner node
 * 64, and `ReceiptBatch` is its own EIP-712 type, so neither a node nor a batch signature can pass
 * for a receipt or its signature.
 */
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { hashTypedData, recoverTypedDataAddress, type Hex, type TypedDataDomain } from "viem";

export const ReceiptBatchTypes = { ReceiptBatch: [{ name: "root", type: "bytes32" }] } as const;

/** A receipt's place in a signed batch: the batch's root and the Merkle path from the receipt's digest to it. */
export interface ReceiptBatchPath {
  root: Hex;
  proof: Hex[];
}

/** The deepest path a receipt may carry: batches of up to 2^16 receipts. */
export const MAX_BATCH_DEPTH = 16;

function batchTypedData(domain: TypedDataDomain, root: Hex) {
  return { domain, types: ReceiptBatchTypes, primaryType: "ReceiptBatch", message: { root } } as const;
}

/** What the provider signs for a batch (the receipts' domain, the `ReceiptBatch` type). */
export function receiptBatchDigest(domain: TypedDataDomain, root: Hex): Hex {
  return hashTypedData(batchTypedData(domain, root));
}

/** true if `digest` is a leaf of the batch its path leads to. */
export function inReceiptBatch(digest: Hex, batch: ReceiptBatchPath): boolean {
  if (batch.proof.length > MAX_BATCH_DEPTH) return false;
  try {
    return SimpleMerkleTree.verify(batch.root.toLowerCase(), digest.toLowerCase(), batch.proof);
  } catch {
    return false;
  }
}

/**
 * The signers recovered from batch signatures, remembered per isolate (plain data): the second and
 * later receipts of a batch cost two keccak hashes per level instead of an elliptic-curve recovery.
 * Keyed by chain, root and signature, so a remembered answer is the recovery's own.
 */
export class BatchSigners {
  private readonly known = new Map<string, `0x${string}`>();
  constructor(private readonly capacity = 4_096) {}

  get size(): number {
    return this.known.size;
  }

  /** The address that signed this batch root, or null if the signature does not recover. */
  async signerOf(domain: TypedDataDomain, root: Hex, signature: Hex): Promise<`0x${string}` | null> {
    const key = `${domain.chainId ?? ""}:${domain.verifyingContract ?? ""}:${root.toLowerCase()}:${signature.toLowerCase()}`;
    const known = this.known.get(key);
    if (known) return known;
    let signer: `0x${string}`;
    try {
      signer = await recoverTypedDataAddress({ ...batchTypedData(domain, root), signature });
    } catch {
      return null;
    }
    // Oldest first out: a batch's receipts arrive together, so a small memory serves them.
    if (this.known.size >= this.capacity) this.known.delete(this.known.keys().next().value as string);
    this.known.set(key, signer);
    return signer;
  }
}
