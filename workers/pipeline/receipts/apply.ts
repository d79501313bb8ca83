/**
 * Carries out a receipt's reconcile decision through the ports. Resolves to the verdict to store
 * with the receipt once its billing is durable, or null when the receipt must stay with the
 * provider (no decision yet, or a write that did not land): it is then neither acknowledged nor
 * stored, and the agent sends it again.
 */
import { BILLED_FROM_RECEIPT, type ReconcileDecision } from "../../core/metering/reconcile";
import type { ReceiptRecord, TopUp } from "../../core/metering/records";
import type { UsageRecord } from "../../core/metering/usage";
import type { Receipt } from "../../core/protocol/receipt";
import type { Deps } from "../../ports";

type TopUpDecision = Extract<ReconcileDecision, { kind: "topUp" }>;
type BillDecision = Extract<ReconcileDecision, { kind: "billFromReceipt" }>;

export async function applyDecision(
  deps: Deps,
  providerId: string,
  r: Receipt,
  d: ReconcileDecision,
): Promise<ReceiptRecord["status"] | null> {
  switch (d.kind) {
    case "verified":
    case "orphan":
      return d.kind;
    case "mismatch":
      if (d.reason === "offer_gone")
        console.warn(`receipt ${r.requestId}: ${providerId} no longer offers ${r.model}; not re-billed, kept as a mismatch`);
      return "mismatch";
    case "wait":
      return null;
    case "topUp":
      return (await topUp(deps, providerId, r, d)) ? "verified" : null;
    case "billFromReceipt":
      return (await billFromReceipt(deps, providerId, r, d)) ? "verified" : null;
  }
}

/** True once the event carries the corrected counts and the adjustment is in the books (the guard told). */
async function topUp(deps: Deps, providerId: string, r: Receipt, d: TopUpDecision): Promise<boolean> {
  let outcome: TopUp;
  try {
    outcome = await deps.registry.topUpUsage({
      requestId: r.requestId,
      accountId: d.accountId,
      providerId,
      promptTokens: d.promptTokens,
      completionTokens: d.completionTokens,
      costPico: d.costPico,
      feePico: d.feePico,
      previousCostPico: d.previousCostPico,
      previousFeePico: d.previousFeePico,
    });
  } catch (err) {
    console.error(`receipt ${r.requestId}: correction not written (${failureReason(err)}); left with the provider to retry`);
    return false;
  }
  if (!outcome.applied) {
    // Billed differently since it was read (another batch corrected it): judged afresh next time.
    console.warn(`receipt ${r.requestId}: usage event changed while correcting it; left with the provider to retry`);
    return false;
  }
  if (outcome.customerPosting) {
    // The account's guard learns the correction now, not at its next load from the books. The books
    // already have it: a guard that missed it catches up when it next loads.
    try {
      await deps.guard.credit(d.accountId, outcome.customerPosting.amountPico, outcome.customerPosting.entryId);
    } catch (err) {
      console.error(`receipt ${r.requestId}: correction booked, guard of ${d.accountId} not told (${failureReason(err)})`);
    }
  }
  return true;
}

/** True once the usage event written from the receipt is in the books (written now, not buffered). */
async function billFromReceipt(deps: Deps, providerId: string, r: Receipt, d: BillDecision): Promise<boolean> {
  const rec: UsageRecord = {
    requestId: r.requestId,
    keyId: d.keyId,
    accountId: d.accountId,
    providerId,
    model: r.model,
    endpoint: d.endpoint,
    stream: false,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    costPico: d.costPico,
    feePico: d.feePico,
    status: "partial",
    errorCode: BILLED_FROM_RECEIPT,
    receiptStatus: "verified",
    ttftMs: null,
    durationMs: 0,
    edge: deps.cfg.edgeFallback,
    attempts: 1,
    createdAtMs: Number(r.timestamp),
  };
  let written: boolean;
  try {
    written = await deps.registry.writeUsageNow(rec);
  } catch (err) {
    console.error(`receipt ${r.requestId}: bill from receipt not written (${failureReason(err)}); left with the provider to retry`);
    return false;
  }
  if (!written) {
    // Its own isolate metered it after all, since it was read: judged against that event next time.
    console.warn(`receipt ${r.requestId}: usage event appeared while billing from the receipt; left with the provider to retry`);
    return false;
  }
  // Releases the reservation if the account's guard still holds it (the alarm may have already).
  deps.guard.settle(d.accountId, r.requestId, d.costPico, r.promptTokens + r.completionTokens);
  return true;
}

/** The database's own reason: drizzle wraps it with the query and its parameters, which stay out of the log. */
export function failureReason(err: unknown): string {
  const reason = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return reason instanceof Error ? reason.message : String(reason);
}
