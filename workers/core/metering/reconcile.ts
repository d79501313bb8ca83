/**
 * What to do with a provider's signed receipt from its outbox, given what the gateway already has
 * for that request (its usage event, its reservation, the provider's registered price). Pure: the
 * pipeline loads the facts, calls this, and applies the decision through its ports.
 */
import type { Receipt } from "../protocol/receipt";
import type { Endpoint } from "../routing/types";
import { costPico, type TokenCounts, type TokenPrice } from "../money/pricing";
import { feeSplit } from "../money/ledger";
import type { StreamErrorCode } from "../openai/usage-tap";
import type { BilledUsage, ReservationRecord, TopUpRequest } from "./records";

/**
 * The default of Config.receiptReconcileAfterMs (RECEIPT_RECONCILE_AFTER_MS): a request that was
 * admitted but never metered is billed from its receipt once its reservation and its receipt are
 * this old (the isolate's usage flush is overdue).
 */
export const DEFAULT_RECONCILE_AFTER_MS = 60_000;
/** A receipt for a request the gateway has no record of is kept as an orphan after this long. */
export const ORPHAN_AFTER_MS = 10 * 60_000;
/** The error code of a usage event whose client hung up mid-stream (billed for what was delivered). */
export const CLIENT_LEFT = "client_disconnected";
/** The error codes of a stream the provider cut before its answer was complete (openai/usage-tap). */
export const PROVIDER_CUT: readonly StreamErrorCode[] = ["upstream_stream_ended", "upstream_idle_timeout", "upstream_error"];
/** The error code of a usage event written from a receipt (its isolate never reported back). */
export const BILLED_FROM_RECEIPT = "billed_from_receipt";

export interface ReconcileInput {
  receipt: Receipt;
  /** The provider whose wallet signed the receipt. */
  providerId: string;
  billed: BilledUsage | null;
  reservation: ReservationRecord | null;
  /** The provider's registered price for the receipt's model; null when it no longer offers it. */
  offer: TokenPrice | null;
  feeBps: number;
  /** A reservation with no usage event is billed from the receipt once it is this old (the isolate's flush is overdue). */
  reconcileAfterMs: number;
  nowMs: number;
}

export type MismatchReason = "offer_gone" | "other_provider" | "counts";

export type ReconcileDecision =
  /** The bill stands and agrees with the receipt: store it as verified. */
  | { kind: "verified" }
  /** The bill stands but the receipt disagrees, or cannot be priced: store it as a mismatch. */
  | { kind: "mismatch"; reason: MismatchReason }
  /**
   * Re-bill the event (a charge or a refund): a client that left, at the signed counts; a stream the
   * provider cut, at the signed prompt and the completion tokens delivered.
   */
  | ({ kind: "topUp" } & Omit<TopUpRequest, "requestId" | "providerId">)
  /** Admitted, never metered (its isolate died, before or after it settled): bill it from the receipt. */
  | { kind: "billFromReceipt"; accountId: string; keyId: string; endpoint: Endpoint; costPico: bigint; feePico: bigint }
  /** The gateway never heard of the request, long enough ago: store it as an orphan. */
  | { kind: "orphan" }
  /** The request may still be metered: leave the receipt with the provider (neither accepted nor rejected). */
  | { kind: "wait" };

export function reconcileReceipt(i: ReconcileInput): ReconcileDecision {
  const { receipt: r, billed: u } = i;
  if (u) {
    // A receipt may correct a bill of its own provider that signs at least what was delivered.
    const own = u.providerId === i.providerId && r.completionTokens >= u.completionTokens;
    if (own && u.errorCode === CLIENT_LEFT) return correctClientLeft(i, u);
    if (own && isProviderCut(u.errorCode)) return correctProviderCut(i, u);
    return judgeBill(r, u, i.providerId);
  }
  const res = i.reservation;
  // Settled or not: the settlement reaches the account's object within a short window, the usage
  // record only with the next flush, so an isolate that died in between leaves a settled
  // reservation and no usage event. Writing it is idempotent on the request id (a late flush adds nothing).
  // Counted from the end of the answer (the receipt is signed then), not the admission: a long
  // stream's own usage record may still be on its way when its receipt comes. Never earlier than
  // the admission allows: a back-dated receipt cannot hurry its own billing.
  const since = res ? Math.max(res.createdAtMs, Number(r.timestamp)) : 0;
  if (res && i.nowMs - since >= i.reconcileAfterMs && i.offer) {
    const charged = signedCostPico(r, i.offer, res.amountPico);
    return {
      kind: "billFromReceipt",
      accountId: res.accountId,
      keyId: res.keyId,
      endpoint: res.endpoint,
      costPico: charged,
      feePico: feeSplit(charged, i.feeBps).feePico,
    };
  }
  return i.nowMs - Number(r.timestamp) >= ORPHAN_AFTER_MS ? { kind: "orphan" } : { kind: "wait" };
}

/**
 * The client left: the provider generated up to the cancellation and signed that count (and its
 * prompt, which the gateway had only estimated). Billed for it — more than first billed, or less
 * when the prompt estimate was above the signed count — capped by the reservation.
 */
function correctClientLeft(i: ReconcileInput, u: BilledUsage): ReconcileDecision {
  const r = i.receipt;
  if (r.promptTokens === u.promptTokens && r.completionTokens === u.completionTokens) return { kind: "verified" };
  if (!i.offer) return { kind: "mismatch", reason: "offer_gone" };
  const charged = signedCostPico(r, i.offer, i.reservation?.amountPico ?? null);
  return {
    kind: "topUp",
    accountId: u.accountId,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    costPico: charged,
    feePico: correctedFeePico(charged, u, i.feeBps),
    previousCostPico: u.costPico,
    previousFeePico: u.feePico,
  };
}

/** A bill whose stream the provider cut: billed at the prompt estimate (no in-band usage came), or at a reported prompt. */
export function isProviderCut(errorCode: string | null): boolean {
  return PROVIDER_CUT.some((code) => code === errorCode);
}

/** A bill the provider's signed counts may correct when its receipt comes: the outbox needs its reservation and price. */
export function isCorrectable(errorCode: string | null): boolean {
  return errorCode === CLIENT_LEFT || isProviderCut(errorCode);
}

/**
 * The provider cut the stream: the gateway billed the completion tokens it delivered and, without
 * in-band usage, its own prompt estimate. The signed prompt count replaces the estimate; the
 * completion stays at what was delivered (a provider that broke the answer is not paid for output
 * the client never got), capped by the reservation.
 */
function correctProviderCut(i: ReconcileInput, u: BilledUsage): ReconcileDecision {
  const r = i.receipt;
  if (r.promptTokens === u.promptTokens) return { kind: "verified" };
  if (!i.offer) return { kind: "mismatch", reason: "offer_gone" };
  const tokens = { promptTokens: r.promptTokens, completionTokens: u.completionTokens };
  const charged = signedCostPico(tokens, i.offer, i.reservation?.amountPico ?? null);
  return {
    kind: "topUp",
    accountId: u.accountId,
    ...tokens,
    costPico: charged,
    feePico: correctedFeePico(charged, u, i.feeBps),
    previousCostPico: u.costPico,
    previousFeePico: u.feePico,
  };
}

/** The gateway billed what it delivered; the provider may have generated more before a cancel. */
function judgeBill(r: Receipt, u: BilledUsage, providerId: string): ReconcileDecision {
  if (u.providerId !== providerId) return { kind: "mismatch", reason: "other_provider" };
  const agrees = r.promptTokens === u.promptTokens && r.completionTokens >= u.completionTokens;
  return agrees ? { kind: "verified" } : { kind: "mismatch", reason: "counts" };
}

/** A receipt's signed counts at the provider's registered price (never the receipt's own), capped. */
export function signedCostPico(tokens: TokenCounts, offer: TokenPrice, capPico: bigint | null = null): bigint {
  const full = costPico({ promptTokens: tokens.promptTokens, completionTokens: tokens.completionTokens }, offer);
  return capPico !== null && full > capPico ? capPico : full;
}

/**
 * The fee of a corrected bill: it moves with the cost and never beyond it, whatever the rate was
 * when first billed (a charge never lowers the fee, a refund never raises it, neither moves it
 * by more than the cost moved).
 */
export function correctedFeePico(costPico: bigint, billed: { costPico: bigint; feePico: bigint }, feeBps: number): bigint {
  const deltaCost = costPico - billed.costPico;
  const wanted = feeSplit(costPico, feeBps).feePico - billed.feePico;
  const deltaFee = deltaCost > 0n ? clamp(wanted, 0n, deltaCost) : clamp(wanted, deltaCost, 0n);
  return billed.feePico + deltaFee;
}

const clamp = (v: bigint, lo: bigint, hi: bigint): bigint => (v < lo ? lo : v > hi ? hi : v);
