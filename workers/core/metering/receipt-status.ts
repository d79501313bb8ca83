/**
 * The order of a usage event's receipt statuses, and what a late write may do to one. A verdict only
 * ever moves up: none (not judged yet) < unverified (missing, invalid or mismatched) < verified (a
 * signed receipt matched what was billed). Whichever path judges first (the inline receipt after the
 * response, or the provider's outbox batch) the stronger verdict is kept; a late, weaker one changes
 * nothing. A request whose stored receipt is a mismatch (a disputed claim) is not made verified by a
 * status write: its stored receipt decides, and that one is changed only by the receipt that produced it.
 */
import type { UsageRecord } from "./usage";

export type ReceiptStatus = UsageRecord["receiptStatus"];

/** Every status, weakest first. */
export const RECEIPT_STATUS_ORDER: readonly ReceiptStatus[] = ["none", "unverified", "verified"];

export const receiptStatusRank = (s: ReceiptStatus): number => RECEIPT_STATUS_ORDER.indexOf(s);

/** What `current` becomes when `incoming` is written: the stronger of the two. */
export function mergeReceiptStatus(current: ReceiptStatus, incoming: ReceiptStatus): ReceiptStatus {
  return receiptStatusRank(incoming) > receiptStatusRank(current) ? incoming : current;
}

/** The statuses a write of `incoming` replaces (strictly weaker ones): the condition of a monotone UPDATE. */
export function replacedBy(incoming: ReceiptStatus): ReceiptStatus[] {
  return RECEIPT_STATUS_ORDER.filter((s) => receiptStatusRank(s) < receiptStatusRank(incoming));
}

/**
 * Status writes grouped by the status written, each request keeping the strongest written to it
 * (one statement per group), groups that can change nothing ("none") left out.
 */
export function statusWrites(updates: readonly (readonly [string, ReceiptStatus])[]): { status: ReceiptStatus; requestIds: string[] }[] {
  const best = new Map<string, ReceiptStatus>();
  for (const [id, s] of updates) best.set(id, mergeReceiptStatus(best.get(id) ?? "none", s));
  return RECEIPT_STATUS_ORDER.filter((s) => replacedBy(s).length > 0)
    .map((status) => ({ status, requestIds: [...best].filter(([, s]) => s === status).map(([id]) => id) }))
    .filter((w) => w.requestIds.length > 0);
}
