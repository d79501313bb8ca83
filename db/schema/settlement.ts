/** Settlement periods (one Merkle root of receipts each) and the `settle` batches that pay them. */
import { sql } from "drizzle-orm";
import { bigint, bigserial, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";

/**
 * A settlement period: receipts and provider earnings up to `cutoff`, committed by one Merkle root
 * and paid by one or more batches. At most one period is open (its batches not all settled): a
 * new period's payouts are computed only from a ledger that already records every earlier one.
 */
export const settlementPeriods = pgTable(
  "settlement_periods",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    chainId: integer().notNull(),
    cutoff: timestamp({ withTimezone: true }).notNull(),
    merkleRoot: text().notNull(),
    receiptCount: integer().notNull(),
    status: text({ enum: ["open", "settled"] }).notNull(),
    createdAt: createdAt(),
    settledAt: timestamp({ withTimezone: true }),
  },
  (t) => [uniqueIndex("settlement_periods_one_open").on(t.status).where(sql`status = 'open'`)],
);

export interface PayoutRow {
  providerId: string;
  address: string;
  amountBase: string;
}

/**
 * One `settle` transaction. recorded → sending (signed: nonce, hash and raw bytes stored before the
 * broadcast) → settled (confirmed on chain, ledger written in the same database transaction).
 * A reverted send goes back to recorded with its error; it is never re-signed while its hash may land.
 */
export const settlementBatches = pgTable(
  "settlement_batches",
  {
    /** bytes32 hex: the on-chain batch id. */
    id: text().primaryKey(),
    periodId: bigint({ mode: "number" })
      .notNull()
      .references(() => settlementPeriods.id),
    part: integer().notNull(),
    payouts: jsonb().$type<PayoutRow[]>().notNull(),
    feeBase: bigint({ mode: "bigint" }).notNull(),
    totalBase: bigint({ mode: "bigint" }).notNull(),
    status: text({ enum: ["recorded", "sending", "settled"] }).notNull(),
    nonce: integer(),
    txHash: text(),
    rawTx: text(),
    blockNumber: bigint({ mode: "bigint" }),
    gasUsed: bigint({ mode: "bigint" }),
    attempts: integer().notNull().default(0),
    lastError: text(),
    createdAt: createdAt(),
    settledAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.periodId), index().on(t.status)],
);

export type SettlementBatchRow = typeof settlementBatches.$inferSelect;
export type SettlementPeriodRow = typeof settlementPeriods.$inferSelect;
