/**
 * GET /providers/v1/receipts/{requestId}/proof — for the provider that signed the receipt: the
 * receipt, its leaf (the EIP-712 digest), the Merkle proof, and the period's root and batches, so
 * the provider can check its receipt against the root the Settlement contract stores.
 */
import type { Context } from "hono";
import { addressOrNull, Signature } from "../../core/wire";
import { errors } from "../../core/openai/errors";
import { MESSAGE_WINDOW_MS, SIGNED_GET_HEADERS, verifyProviderMessage } from "../../core/protocol/provider-messages";
import type { AppEnv } from "../app-env";
import { receiptProofFor } from "../../pipeline/receipts/proof";

export async function receiptProof(c: Context<AppEnv>) {
  const { deps } = c.var;
  const requestId = c.req.param("requestId") ?? "";
  const address = addressOrNull(c.req.header(SIGNED_GET_HEADERS.address));
  const timestamp = Number(c.req.header(SIGNED_GET_HEADERS.timestamp));
  const signature = Signature.safeParse(c.req.header(SIGNED_GET_HEADERS.signature));
  if (!address || !Number.isSafeInteger(timestamp) || !signature.success) {
    throw errors.invalidRequest(
      `A proof request is signed by the provider's wallet: headers ${Object.values(SIGNED_GET_HEADERS).join(", ")}.`,
      SIGNED_GET_HEADERS.signature,
      "missing_signature",
    );
  }
  if (Math.abs(deps.now() - timestamp) > MESSAGE_WINDOW_MS) {
    throw errors.invalidRequest(
      `The message timestamp is more than ${MESSAGE_WINDOW_MS / 1000} s from the gateway's clock.`,
      SIGNED_GET_HEADERS.timestamp,
      "stale_message",
    );
  }
  const payload = { address, timestamp, request_id: requestId };
  if (!(await verifyProviderMessage(deps.cfg.chainId, "proof", payload, signature.data))) throw errors.invalidSignature();
  return c.json(await receiptProofFor(deps, requestId, address));
}
