/**
 * A batch of signed receipts from a provider's outbox: load what the gateway has for them, decide
 * each with core's reconcileReceipt, apply the decisions, and acknowledge only what is durably
 * applied and stored. A receipt left out of both `accepted` and `rejected` stays in the agent's
 * outbox and comes back in a later batch.
 */
import { isCorrectable, reconcileReceipt } from "../../core/metering/reconcile";
import type { ReceiptRecord, ReservationRecord } from "../../core/metering/records";
import type { TokenPrice } from "../../core/money/pricing";
import { decodeSignedReceipt, receiptDomain, verifyReceipt, type Receipt, type SignedReceipt } from "../../core/protocol/receipt";
import { sameClaim } from "../../core/metering/receipt-check";
import type { Deps } from "../../ports";
import { isProbeRequest } from "../../core/metering/probe";
import { applyDecision, failureReason } from "./apply";
import { receiptRecord } from "./row";

export interface ReceiptsAck {
  accepted: string[];
  rejected: { request_id: string | null; reason: string }[];
}

/** A receipt to judge; `stored`: this very receipt is stored as verified, and only a correction it still owes is applied. */
type Signed = SignedReceipt & { stored: boolean };

/** The reason a receipt for a request whose receipt is stored, but another one, is refused. */
export const CONFLICTING = "a different receipt is stored for this request";

/** Each receipt must be signed by the posting provider's wallet and addressed to this gateway. */
export async function acceptReceipts(deps: Deps, address: `0x${string}`, encoded: string[]): Promise<ReceiptsAck> {
  const provider = await deps.registry.providerByAddress(address);
  if (!provider) {
    return {
      accepted: [],
      rejected: encoded.map((e) => ({ request_id: decodeSignedReceipt(e)?.receipt.requestId ?? null, reason: "unknown provider" })),
    };
  }
  const ack: ReceiptsAck = { accepted: [], rejected: [] };
  const fresh = await screen(deps, address, encoded, ack);
  if (fresh.length === 0) return ack;

  const facts = await loadFacts(
    deps,
    provider.id,
    fresh.map((s) => s.receipt.requestId),
  );
  const nowMs = deps.now();
  const rows: ReceiptRecord[] = [];
  for (const { receipt, signature, batch, stored } of fresh) {
    const decision = reconcileReceipt({
      receipt,
      providerId: provider.id,
      billed: facts.usage.get(receipt.requestId) ?? null,
      reservation: facts.reservations.get(receipt.requestId) ?? null,
      offer: facts.offerFor(receipt.model),
      feeBps: deps.cfg.protocolFeeBps,
      reconcileAfterMs: deps.cfg.receiptReconcileAfterMs,
      nowMs,
    });
    if (stored) {
      // Judged verified inline, before its bill could be corrected (a stream the provider cut):
      // acknowledged once the correction it owes, if any, is in the books. Stored already.
      const owed = decision.kind === "topUp" ? await applyDecision(deps, provider.id, receipt, decision) : "verified";
      if (owed) ack.accepted.push(receipt.requestId);
      continue;
    }
    const status = await applyDecision(deps, provider.id, receipt, decision);
    if (status) rows.push(receiptRecord(deps.cfg.chainId, provider.id, receipt, signature, "outbox", status, batch));
  }
  ack.accepted.push(...(await storeApplied(deps, rows)));
  return ack;
}

/**
 * Acknowledges probes and receipts already stored, rejects what is not this provider's to sign
 * and any receipt that claims otherwise than the one stored for its request (a stored verdict is
 * changed only by the receipt that produced it), and returns the rest to be judged. Most outbox
 * receipts already came inline and were judged then: the stored claim needs no second signature
 * recovery (~3 ms of CPU each); a verified one is judged again only for the correction it may owe.
 */
async function screen(deps: Deps, address: `0x${string}`, encoded: string[], ack: ReceiptsAck): Promise<Signed[]> {
  const domain = receiptDomain(deps.cfg.chainId);
  const decoded = encoded.map(decodeSignedReceipt);
  const stored = await deps.registry.storedReceipts(decoded.flatMap((d) => (d ? [d.receipt.requestId] : [])));
  const fresh: Signed[] = [];
  for (const d of decoded) {
    if (!d) {
      ack.rejected.push({ request_id: null, reason: "malformed" });
      continue;
    }
    const batched = { batch: d.batch, signers: deps.batchSigners };
    // The gateway's own health probes are not billable work: acknowledged, not stored.
    if (isProbeRequest(d.receipt.requestId)) {
      ack.accepted.push(d.receipt.requestId);
      continue;
    }
    const own =
      d.receipt.provider.toLowerCase() === address.toLowerCase() &&
      d.receipt.gateway.toLowerCase() === deps.cfg.gatewayAddress.toLowerCase();
    const known = stored.get(d.receipt.requestId);
    if (own && known) {
      // The stored receipt again, or its claim signed again: acknowledged, not stored a second time.
      if (!sameClaim(d.receipt, known)) {
        // Refused either way; the reason says whether it was forged (a tampered copy) or genuinely signed otherwise.
        const genuine = await verifyReceipt(domain, d.receipt, d.signature, address, batched);
        ack.rejected.push({ request_id: d.receipt.requestId, reason: genuine ? CONFLICTING : "signature" });
      } else if (known.status === "verified") fresh.push({ ...d, stored: true });
      else ack.accepted.push(d.receipt.requestId);
      continue;
    }
    if (!own || !(await verifyReceipt(domain, d.receipt, d.signature, address, batched))) {
      ack.rejected.push({ request_id: d.receipt.requestId, reason: own ? "signature" : "not addressed to this gateway" });
      continue;
    }
    fresh.push({ ...d, stored: false });
  }
  return fresh;
}

/** The usage events billed for these requests, the reservations of those not (fully) metered or correctable, and the provider's prices. */
async function loadFacts(deps: Deps, providerId: string, requestIds: string[]) {
  const usage = await deps.registry.usageFor(requestIds);
  const unmetered = requestIds.filter((id) => {
    const billed = usage.get(id);
    return !billed || isCorrectable(billed.errorCode);
  });
  const reservations = unmetered.length ? await deps.registry.reservationsFor(unmetered) : new Map<string, ReservationRecord>();
  // Only a correction or a bill from a receipt needs a price: the table is cached per isolate.
  const offers = unmetered.length ? (await deps.routes.table()).offers.filter((o) => o.providerId === providerId) : [];
  const offerFor = (model: string): TokenPrice | null => offers.find((o) => o.model === model) ?? null;
  return { usage, reservations, offerFor };
}

/**
 * Stores the receipts whose billing is applied; their ids are the acknowledgement. If storing
 * fails none is acknowledged: the agent sends them again, and applying them again changes nothing
 * (the books already carry the signed counts, so they judge as verified).
 */
async function storeApplied(deps: Deps, rows: ReceiptRecord[]): Promise<string[]> {
  if (rows.length === 0) return [];
  try {
    return await deps.registry.storeReceipts(rows);
  } catch (err) {
    const ids = rows.map((r) => r.requestId).join(", ");
    console.error(`receipts not stored (${failureReason(err)}); left with the provider to retry: ${ids}`);
    return [];
  }
}
