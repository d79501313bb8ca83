/** A signed receipt as the gateway stores it, with its verdict. */
import { receiptDigest, receiptDomain, type Receipt } from "../../core/protocol/receipt";
import type { ReceiptRecord } from "../../core/metering/records";
import type { ReceiptBatchPath } from "../../core/protocol/receipt-batch";

export function receiptRecord(
  chainId: number,
  providerId: string,
  r: Receipt,
  signature: `0x${string}`,
  source: ReceiptRecord["source"],
  status: ReceiptRecord["status"],
  batch?: ReceiptBatchPath,
): ReceiptRecord {
  return {
    requestId: r.requestId,
    providerId,
    signer: r.provider.toLowerCase(),
    model: r.model,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    inputPrice: r.inputPrice,
    outputPrice: r.outputPrice,
    responseHash: r.responseHash,
    signedAtMs: Number(r.timestamp),
    digest: receiptDigest(receiptDomain(chainId), r),
    signature,
    batch: batch ?? null,
    source,
    status,
  };
}
