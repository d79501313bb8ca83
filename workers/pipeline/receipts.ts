/**
 * Provider receipts: verified inline (a response header or the stream's last event) when the
 * response ends, or in batches from the agent's outbox. Either way a receipt is stored once,
 * keyed by request id, with the gateway's verdict on it.
 */
import { checkReceipt, type GatewayView } from "../core/metering/receipt-check";
import { decodeSignedReceipt, receiptDigest, receiptDomain, verifyReceipt, type Receipt } from "../core/protocol/receipt";
import type { BilledUsage, NewReceipt } from "../adapters/postgres/registry";
import type { Deps } from "../deps";
import { costPico } from "../core/money/pricing";
import { feeSplit } from "../core/money/ledger";
import { PROBE_PREFIX } from "../jobs/probe";

export type InlineVerdict = { status: "verified" | "unverified"; row: NewReceipt | null; reasons: string[] };

/** Judges the receipt that came with a response. Runs after the response, in waitUntil. */
export async function judgeInlineReceipt(deps: Deps, encoded: string | null, providerId: string, signer: string | null, view: GatewayView): Promise<InlineVerdict> {
  if (!encoded) return { status: "unverified", row: null, reasons: ["missing"] };
  const decoded = decodeSignedReceipt(encoded);
  if (!decoded) return { status: "unverified", row: null, reasons: ["malformed"] };
  const domain = receiptDomain(deps.cfg.chainId);
  if (!signer || !(await verifyReceipt(domain, decoded.receipt, decoded.signature, signer as `0x${string}`))) {
    return { status: "unverified", row: null, reasons: ["signature"] };
  }
  const verdict = checkReceipt(decoded.receipt, view);
  const row = toRow(deps, providerId, decoded.receipt, decoded.signature, "inline", verdict.ok ? "verified" : "mismatch");
  return verdict.ok ? { status: "verified", row, reasons: [] } : { status: "unverified", row, reasons: verdict.reasons };
}

export interface ReceiptsAck {
  accepted: string[];
  rejected: { request_id: string | null; reason: string }[];
}

/** A batch from a provider's outbox: each receipt must be signed by that provider's wallet. */
export async function acceptReceipts(deps: Deps, address: `0x${string}`, encoded: string[]): Promise<ReceiptsAck> {
  const provider = await deps.registry.providerByAddress(address);
  const ack: ReceiptsAck = { accepted: [], rejected: [] };
  if (!provider) {
    for (const e of encoded) ack.rejected.push({ request_id: decodeSignedReceipt(e)?.receipt.requestId ?? null, reason: "unknown provider" });
    return ack;
  }
  const domain = receiptDomain(deps.cfg.chainId);
  const decoded = encoded.map(decodeSignedReceipt);
  // Most outbox receipts already came inline and were judged then: the same digest and signature
  // need no second signature recovery (the costliest step, ~3 ms of CPU each).
  const stored = await deps.registry.storedReceipts(decoded.flatMap((d) => (d ? [d.receipt.requestId] : [])));
  const valid: { receipt: Receipt; signature: `0x${string}` }[] = [];
  for (const d of decoded) {
    if (!d) { ack.rejected.push({ request_id: null, reason: "malformed" }); continue; }
    // The gateway's own health probes are not billable work: acknowledged, not stored.
    if (d.receipt.requestId.startsWith(PROBE_PREFIX)) { ack.accepted.push(d.receipt.requestId); continue; }
    const own = d.receipt.provider.toLowerCase() === address.toLowerCase() && d.receipt.gateway.toLowerCase() === deps.cfg.gatewayAddress.toLowerCase();
    const known = stored.get(d.receipt.requestId);
    if (own && known && known.signature.toLowerCase() === d.signature.toLowerCase() && known.digest === receiptDigest(domain, d.receipt)) {
      ack.accepted.push(d.receipt.requestId);
      continue;
    }
    if (!own || !(await verifyReceipt(domain, d.receipt, d.signature, address))) {
      ack.rejected.push({ request_id: d.receipt.requestId, reason: own ? "signature" : "not addressed to this gateway" });
      continue;
    }
    valid.push(d);
  }
  const usage = await deps.registry.usageFor(valid.map((v) => v.receipt.requestId));
  const unmetered = valid.filter((v) => !usage.has(v.receipt.requestId) || usage.get(v.receipt.requestId)!.errorCode === CLIENT_LEFT).map((v) => v.receipt.requestId);
  const reserved = unmetered.length ? await deps.registry.reservationsFor(unmetered) : new Map<string, never>();
  const rows: NewReceipt[] = [];
  for (const { receipt, signature } of valid) {
    const u = usage.get(receipt.requestId);
    if (u && u.providerId === provider.id && u.errorCode === CLIENT_LEFT && receipt.completionTokens >= u.completionTokens) {
      // The client left: the provider generated up to the cancellation, and signed that count (and
      // its prompt, which the gateway had only estimated). Billed for it when that is more.
      const billedAsSigned = await topUpFromReceipt(deps, provider.id, receipt, u, reserved.get(receipt.requestId)?.amountPico ?? null);
      rows.push(toRow(deps, provider.id, receipt, signature, "outbox", billedAsSigned ? "verified" : "mismatch"));
      continue;
    }
    if (u) {
      // The gateway billed what it delivered; the provider may have generated more before a cancel.
      const status = u.providerId === provider.id && receipt.promptTokens === u.promptTokens && receipt.completionTokens >= u.completionTokens ? "verified" : "mismatch";
      rows.push(toRow(deps, provider.id, receipt, signature, "outbox", status));
      continue;
    }
    const r = reserved.get(receipt.requestId);
    if (r && !r.settled && deps.now() - r.createdAtMs >= RECONCILE_AFTER_MS) {
      // Admitted, never reported back: its isolate died mid-request. The signed receipt bills it.
      if (await billFromReceipt(deps, provider.id, receipt, r)) {
        rows.push(toRow(deps, provider.id, receipt, signature, "outbox", "verified"));
        continue;
      }
    }
    // No usage event yet: while the request may still be metered, the receipt stays with the
    // provider (neither accepted nor refused) and comes back in a later batch.
    if (deps.now() - Number(receipt.timestamp) >= ORPHAN_AFTER_MS) rows.push(toRow(deps, provider.id, receipt, signature, "outbox", "orphan"));
  }
  ack.accepted.push(...(await deps.registry.storeReceipts(rows)));
  return ack;
}

const CLIENT_LEFT = "client_disconnected";

/**
 * Bills a request whose client left mid-stream for what the provider generated until it was
 * stopped: its signed counts at its registered price, capped by the request's reservation — more
 * than first billed, or less when the gateway's prompt estimate was above the signed count. True
 * when the event now carries the provider's signed counts.
 */
async function topUpFromReceipt(deps: Deps, providerId: string, r: Receipt, u: BilledUsage, reservedPico: bigint | null): Promise<boolean> {
  if (r.promptTokens === u.promptTokens && r.completionTokens === u.completionTokens) return true;
  const cost = await signedCost(deps, providerId, r, reservedPico);
  if (cost === null) return false;
  const delta = cost - u.costPico;
  // The fee moves with the cost and never beyond it, whatever the rate was when first billed.
  let deltaFee = feeSplit(cost, deps.cfg.protocolFeeBps).feePico - u.feePico;
  if (delta > 0n) deltaFee = deltaFee < 0n ? 0n : deltaFee > delta ? delta : deltaFee;
  else deltaFee = deltaFee > 0n ? 0n : deltaFee < delta ? delta : deltaFee;
  const fee = u.feePico + deltaFee;
  try {
    const topUp = await deps.registry.topUpUsage({
      requestId: r.requestId, accountId: u.accountId, providerId, promptTokens: r.promptTokens, completionTokens: r.completionTokens,
      costPico: cost, feePico: fee, previousCostPico: u.costPico, previousFeePico: u.feePico,
    });
    // The account's guard learns the correction now, not at its next load from the books.
    if (topUp.applied && topUp.customerPosting) {
      await deps.guard.credit(u.accountId, topUp.customerPosting.amountPico, topUp.customerPosting.entryId);
    }
    return topUp.applied;
  } catch (err) {
    console.error(`top-up of ${r.requestId} failed: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

/** A request that was admitted but never metered is billed from its receipt after this long. */
export const RECONCILE_AFTER_MS = 60_000;
/** A receipt for a request the gateway has no record of is kept as an orphan after this long. */
export const ORPHAN_AFTER_MS = 10 * 60_000;

/**
 * The usage event a receipt implies: the provider's signed counts at the provider's registered
 * price for the model (never the receipt's own), capped by the request's reservation, marked partial.
 */
/** A receipt's signed counts at the provider's registered price (never the receipt's own), capped; null if the offer is gone. */
async function signedCost(deps: Deps, providerId: string, r: Receipt, capPico: bigint | null): Promise<bigint | null> {
  const offer = (await deps.routes.table()).offers.find((o) => o.providerId === providerId && o.model === r.model);
  if (!offer) return null;
  const full = costPico({ promptTokens: r.promptTokens, completionTokens: r.completionTokens }, offer);
  return capPico !== null && full > capPico ? capPico : full;
}

async function billFromReceipt(
  deps: Deps, providerId: string, r: Receipt,
  reservation: { accountId: string; keyId: string; endpoint: "chat" | "completions" | "embeddings"; amountPico: bigint },
): Promise<boolean> {
  const charged = await signedCost(deps, providerId, r, reservation.amountPico);
  if (charged === null) return false;
  deps.usage.record({
    requestId: r.requestId, keyId: reservation.keyId, accountId: reservation.accountId, providerId, model: r.model,
    endpoint: reservation.endpoint, stream: false, promptTokens: r.promptTokens, completionTokens: r.completionTokens,
    costPico: charged, feePico: feeSplit(charged, deps.cfg.protocolFeeBps).feePico, status: "partial",
    errorCode: "billed_from_receipt", receiptStatus: "verified", ttftMs: null, durationMs: 0, edge: deps.cfg.edgeFallback,
    attempts: 1, createdAtMs: Number(r.timestamp),
  }, []);
  // Releases the reservation if the account's guard still holds it (the alarm may have already).
  deps.guard.settle(reservation.accountId, r.requestId, charged, r.promptTokens + r.completionTokens);
  return true;
}

function toRow(deps: Deps, providerId: string, r: Receipt, signature: `0x${string}`, source: "inline" | "outbox", status: NewReceipt["status"]): NewReceipt {
  return {
    requestId: r.requestId, providerId, signer: r.provider.toLowerCase(), model: r.model, promptTokens: r.promptTokens,
    completionTokens: r.completionTokens, inputPrice: r.inputPrice, outputPrice: r.outputPrice, responseHash: r.responseHash,
    signedAtMs: Number(r.timestamp), digest: receiptDigest(receiptDomain(deps.cfg.chainId), r), signature, source, status,
  };
}
