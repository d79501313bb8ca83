/** A usage flush in one database session: events (with their ledger postings), receipts, verdicts, latency. */
import type { Db } from "../../../db/client";
import type { UsageBatch } from "../usage-buffer";
import { storeReceipts } from "./registry";
import { insertUsage, setReceiptStatuses, upsertLatency } from "./usage";

export async function writeUsageBatch(db: Db, batch: UsageBatch): Promise<void> {
  await insertUsage(db, batch.records);
  await storeReceipts(db, batch.receipts);
  await setReceiptStatuses(db, batch.receiptStatuses);
  await upsertLatency(db, batch.latency);
}
