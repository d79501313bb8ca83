/**
 * GET /providers/v1/receipts/{requestId}/proof — for the provider that signed the receipt: the
 * receipt, its leaf (the EIP-712 digest), the Merkle proof, and the period's root and batches, so
 * the provider can check its receipt against the root the Settlement contract stores.
 */
import type { Context } from "hono";
import type { Hex } from "viem";
import { errors } from "../../core/openai/errors";
import { MESSAGE_WINDOW_MS, SIGNED_GET_HEADERS, verifyProviderMessage } from "../../core/protocol/provider-messages";
import { periodTree } from "../../core/settlement/merkle";
import { receiptInPeriod } from "../../adapters/postgres/settlement";
import type { AppEnv } from "../app-env";
import type { Deps } from "../../deps";


export async function receiptProof(c: Context<AppEnv>) {
  const { deps } = c.var;
  const requestId = c.req.param("requestId") ?? "";
  const address = c.req.header(SIGNED_GET_HEADERS.address) ?? "";
  const timestamp = Number(c.req.header(SIGNED_GET_HEADERS.timestamp));
  const signature = c.req.header(SIGNED_GET_HEADERS.signature) ?? "";
  if (!/^0x[0-9a-fA-F]{40}$/.test(address) || !Number.isSafeInteger(timestamp) || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw errors.invalidRequest(`A proof request is signed by the provider's wallet: headers ${Object.values(SIGNED_GET_HEADERS).join(", ")}.`, SIGNED_GET_HEADERS.signature, "missing_signature");
  }
  if (Math.abs(deps.now() - timestamp) > MESSAGE_WINDOW_MS) {
    throw errors.invalidRequest(`The message timestamp is more than ${MESSAGE_WINDOW_MS / 1000} s from the gateway's clock.`, SIGNED_GET_HEADERS.timestamp, "stale_message");
  }
  const payload = { address: address as Hex, timestamp, request_id: requestId };
  if (!(await verifyProviderMessage(deps.cfg.chainId, "proof", payload, signature as Hex))) throw errors.invalidSignature();
  return c.json(await receiptProofFor(deps, requestId, address));
}

/**
 * The proof of `requestId`'s receipt for the provider whose wallet `signer` signed it (the signed
 * GET above, or the provider's dashboard session). Throws 404 for anyone else's receipt, 409 while
 * its period is not closed.
 */
export async function receiptProofFor(deps: Pick<Deps, "cfg" | "withDb">, requestId: string, signer: string) {
  const found = await deps.withDb((db) => receiptInPeriod(db, requestId));
  // Someone else's receipt is reported as absent: its existence is not the caller's business.
  if (!found || found.receipt.signer.toLowerCase() !== signer.toLowerCase()) throw errors.notFound(`Receipt '${requestId}'`);
  const r = found.receipt;
  if (!found.period) throw errors.conflict("The receipt is not in a closed settlement period yet; ask again after the next settlement.");
  const proof = periodTree(found.digests).proof(r.digest as Hex);
  if (!proof) throw new Error(`receipt ${requestId} is assigned to period ${found.period.id} but not in its tree`);
  return {
    request_id: requestId,
    receipt: {
      requestId: r.requestId, model: r.model, promptTokens: r.promptTokens, completionTokens: r.completionTokens,
      inputPrice: r.inputPrice.toString(), outputPrice: r.outputPrice.toString(), provider: r.signer, gateway: deps.cfg.gatewayAddress,
      responseHash: r.responseHash, timestamp: String(r.signedAtMs),
    },
    signature: r.signature,
    leaf: r.digest,
    proof,
    period: { id: found.period.id, merkle_root: found.period.merkleRoot, receipts: found.period.receiptCount, cutoff: found.period.cutoff.toISOString(), status: found.period.status },
    batches: found.batches.map((b) => ({ batch_id: b.id, part: b.part, status: b.status, tx_hash: b.txHash, block_number: b.blockNumber?.toString() ?? null })),
    chain: { chain_id: deps.cfg.chainId, settlement: deps.cfg.chain?.settlement ?? null },
  };
}
