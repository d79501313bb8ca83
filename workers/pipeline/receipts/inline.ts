/** The receipt that came with a response (a header or the stream's last event), judged after it ends. */
import { checkReceipt, type GatewayView } from "../../core/metering/receipt-check";
import { decodeSignedReceipt, receiptDomain, verifyReceipt } from "../../core/protocol/receipt";
import type { ReceiptRecord } from "../../core/metering/records";
import type { Deps } from "../../ports";
import { receiptRecord } from "./row";

export type InlineVerdict = { status: "verified" | "unverified"; row: ReceiptRecord | null; reasons: string[] };

/** Judges the receipt that came with a response. Runs after the response, in waitUntil. */
export async function judgeInlineReceipt(
  deps: Deps,
  encoded: string | null,
  providerId: string,
  signer: string | null,
  view: GatewayView,
): Promise<InlineVerdict> {
  if (!encoded) return { status: "unverified", row: null, reasons: ["missing"] };
  const decoded = decodeSignedReceipt(encoded);
  if (!decoded) return { status: "unverified", row: null, reasons: ["malformed"] };
  const domain = receiptDomain(deps.cfg.chainId);
  if (
    !signer ||
    !(await verifyReceipt(domain, decoded.receipt, decoded.signature, signer as `0x${string}`, {
      batch: decoded.batch,
      signers: deps.batchSigners,
    }))
  ) {
    return { status: "unverified", row: null, reasons: ["signature"] };
  }
  const verdict = checkReceipt(decoded.receipt, view);
  // Another request's receipt (a stale one replayed): wrong for this one, and judged against the
  // wrong view for its own, so stored for neither. Its own request keeps the verdict it has.
  if (decoded.receipt.requestId !== view.requestId)
    return { status: "unverified", row: null, reasons: verdict.ok ? ["request id"] : verdict.reasons };
  const row = receiptRecord(
    deps.cfg.chainId,
    providerId,
    decoded.receipt,
    decoded.signature,
    "inline",
    verdict.ok ? "verified" : "mismatch",
    decoded.batch,
  );
  return verdict.ok ? { status: "verified", row, reasons: [] } : { status: "unverified", row, reasons: verdict.reasons };
}
