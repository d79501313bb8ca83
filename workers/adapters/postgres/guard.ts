/** The account guard's reads and writes: the booked balance, a key's spend this month, reservations. */
import { and, eq, gte, inArray, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { ledgerEntries, reservations, usageEvents } from "../../../db/schema";
import { customerAccount } from "../../core/money/ledger";
import { anyText, rowsOf } from "./json-rows";

export type NewReservation = typeof reservations.$inferInsert;

/** The account's balance from its ledger postings, and the newest posting that sum includes. */
export async function bookedBalance(db: Db, accountId: string): Promise<{ balance: bigint; lastEntryId: number }> {
  const [r] = await db
    .select({
      balance: sql<string>`coalesce(sum(${ledgerEntries.amountPico}), 0)::text`,
      last: sql<string>`coalesce(max(${ledgerEntries.id}), 0)::text`,
    })
    .from(ledgerEntries)
    .where(eq(ledgerEntries.account, customerAccount(accountId)));
  return { balance: BigInt(r?.balance ?? "0"), lastEntryId: Number(r?.last ?? "0") };
}

/** Key budgets run per calendar month (UTC): what the key has spent since the month began. */
export async function keySpendThisMonth(db: Db, keyId: string, nowMs: number): Promise<bigint> {
  const monthStart = new Date(nowMs);
  monthStart.setUTCDate(1);
  monthStart.setUTCHours(0, 0, 0, 0);
  const [r] = await db
    .select({ spent: sql<string>`coalesce(sum(${usageEvents.costPico}), 0)::text` })
    .from(usageEvents)
    .where(and(eq(usageEvents.keyId, keyId), gte(usageEvents.createdAt, monthStart)));
  return BigInt(r?.spent ?? "0");
}

/** Reservations made and settled since the last write, in one round trip each; idempotent. */
export async function persistReservations(
  db: Db,
  made: readonly NewReservation[],
  settledIds: readonly string[],
  settledAt: Date,
): Promise<void> {
  // One parameter per statement however many rows (json-rows.ts): this runs every second under load.
  if (made.length) await db.insert(reservations).select(rowsOf(reservations, made).select).onConflictDoNothing();
  if (settledIds.length)
    await db
      .update(reservations)
      .set({ settledAt })
      .where(sql`${reservations.requestId} = ${anyText(settledIds)}`);
}
