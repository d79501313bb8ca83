/**
 * Compares a provider's signed receipt with what the gateway itself saw. The signature proves
 * who made the claim; this proves the claim is the one the gateway would make.
 */
import type { TokenCounts } from "../openai/chunks";
import type { Receipt } from "../protocol/receipt";

export interface GatewayView {
  requestId: string;
  model: string;
  provider: string;
  gateway: string;
  inputPrice: bigint;
  outputPrice: bigint;
  /** The usage the provider reported in-band (usage object or chunk), if any. */
  reported: TokenCounts | null;
  /** Content chunks that reached the gateway: the floor for a stream without usage. */
  deliveredTokens: number;
}

export type ReceiptVerdict = { ok: true } | { ok: false; reasons: string[] };

export function checkReceipt(r: Receipt, seen: GatewayView): ReceiptVerdict {
  const reasons: string[] = [];
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (r.requestId !== seen.requestId) reasons.push("request id");
  if (r.model !== seen.model) reasons.push("model");
  if (!same(r.provider, seen.provider)) reasons.push("provider");
  if (!same(r.gateway, seen.gateway)) reasons.push("gateway");
  if (r.inputPrice !== seen.inputPrice || r.outputPrice !== seen.outputPrice) reasons.push("price");
  if (seen.reported) {
    if (r.promptTokens !== seen.reported.promptTokens) reasons.push("prompt tokens");
    if (r.completionTokens !== seen.reported.completionTokens) reasons.push("completion tokens");
  } else if (r.completionTokens < seen.deliveredTokens) {
    reasons.push("completion tokens");
  }
  return reasons.length ? { ok: false, reasons } : { ok: true };
}

/** The claim of a stored receipt: what it signs, less when it was signed. */
export type SignedClaim = Pick<Receipt, "model" | "promptTokens" | "completionTokens" | "inputPrice" | "outputPrice"> & {
  responseHash: string;
};

/**
 * Whether a receipt claims what the stored one for its request claims (the same receipt sent again,
 * or the same counts signed again later). Anything else is a conflicting claim.
 */
export function sameClaim(r: Receipt, stored: SignedClaim): boolean {
  return (
    r.model === stored.model &&
    r.promptTokens === stored.promptTokens &&
    r.completionTokens === stored.completionTokens &&
    r.inputPrice === stored.inputPrice &&
    r.outputPrice === stored.outputPrice &&
    r.responseHash.toLowerCase() === stored.responseHash.toLowerCase()
  );
}
