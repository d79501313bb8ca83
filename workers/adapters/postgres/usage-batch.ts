/** A usage flush in one database session: events (with their ledger postings), receipts, verdicts, latency. */
import { and, inArray, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { receipts, usageEvents } from "../../../db/schema";
import { replacedBy, statusWrites, type ReceiptStatus } from "../../core/metering/receipt-status";
import type { UsageBatch } from "../usage-buffer";
import { storeReceipts } from "./registry";
import { anyText } from "./json-rows";
import { insertUsage, upsertLatency } from "./usage";

export async function writeUsageBatch(db: Db, batch: UsageBatch): Promise<void> {
  await insertUsage(db, batch.records);
  await storeReceipts(db, batch.receipts);
  await raiseReceiptStatuses(db, batch.receiptStatuses);
  await upsertLatency(db, batch.latency);
}

/**
 * Writes inline verdicts monotonically (core/metering/receipt-status.ts): one conditional UPDATE per
 * status written, changing only events whose status is weaker, so a late 'unverified' never undoes
 * the outbox's 'verified', whatever commits first (no read-modify-write: the condition is re-checked
 * on the row the UPDATE locks). 'verified' is not written over a stored mismatch receipt: that
 * request's verdict stays the one its stored receipt gave it.
 */
export async function raiseReceiptStatuses(db: Db, updates: readonly (readonly [string, ReceiptStatus])[]): Promise<void> {
  for (const { status, requestIds } of statusWrites(updates)) {
    const disputed = sql`exists (select 1 from ${receipts} where ${receipts.requestId} = ${usageEvents}.request_id and ${receipts.status} = 'mismatch')`;
    await db
      .update(usageEvents)
      .set({ receiptStatus: status })
      .where(
        and(
          sql`${usageEvents.requestId} = ${anyText(requestIds)}`,
          inArray(usageEvents.receiptStatus, replacedBy(status)),
          status === "verified" ? sql`not ${disputed}` : undefined,
        ),
      );
  }
}
