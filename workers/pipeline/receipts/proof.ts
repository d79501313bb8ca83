/** A settled receipt's Merkle proof, for the provider that signed it (signed GET or dashboard session). */
import type { Hex } from "viem";
import { errors } from "../../core/openai/errors";
import { receiptWire } from "../../core/protocol/receipt";
import { periodTree } from "../../core/settlement/merkle";
import type { Deps } from "../../ports";

/**
 * The proof of `requestId`'s receipt for the provider whose wallet `signer` signed it (the signed
 * GET above, or the provider's dashboard session). Throws 404 for anyone else's receipt, 409 while
 * its period is not closed.
 */
export async function receiptProofFor(deps: Pick<Deps, "cfg" | "registry">, requestId: string, signer: string) {
  const found = await deps.registry.receiptInPeriod(requestId);
  // Someone else's receipt is reported as absent: its existence is not the caller's business.
  if (!found || found.receipt.signer.toLowerCase() !== signer.toLowerCase()) throw errors.notFound(`Receipt '${requestId}'`);
  const r = found.receipt;
  if (!found.period) throw errors.conflict("The receipt is not in a closed settlement period yet; ask again after the next settlement.");
  const proof = periodTree(found.digests).proof(r.digest as Hex);
  if (!proof) throw new Error(`receipt ${requestId} is assigned to period ${found.period.id} but not in its tree`);
  return {
    request_id: requestId,
    receipt: receiptWire({
      ...r,
      provider: r.signer as Hex,
      gateway: deps.cfg.gatewayAddress,
      responseHash: r.responseHash as Hex,
      timestamp: BigInt(r.signedAtMs),
    }),
    signature: r.signature,
    /** For a receipt signed by the batch: the root `signature` signs and the receipt's path to it (SPEC §2.1). */
    receipt_batch: r.batch ?? null,
    leaf: r.digest,
    proof,
    period: {
      id: found.period.id,
      merkle_root: found.period.merkleRoot,
      receipts: found.period.receiptCount,
      cutoff: found.period.cutoff.toISOString(),
      status: found.period.status,
    },
    batches: found.batches.map((b) => ({
      batch_id: b.id,
      part: b.part,
      status: b.status,
      tx_hash: b.txHash,
      block_number: b.blockNumber?.toString() ?? null,
    })),
    chain: { chain_id: deps.cfg.chainId, settlement: deps.cfg.chain?.settlement ?? null },
  };
}
