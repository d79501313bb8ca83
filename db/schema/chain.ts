/** What the chain readers saw: their cursors, deposits and withdrawal requests. */
import { bigint, index, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";
import { accounts } from "./accounts";

/** How far each chain reader has read: the next block it will scan. */
export const chainCursors = pgTable("chain_cursors", {
  /** e.g. `settlement-events:<chainId>:<contract>` */
  name: text().primaryKey(),
  nextBlock: bigint({ mode: "bigint" }).notNull(),
  /** Hash of block nextBlock − 1 when it was read: a different hash later means a reorg deeper than the confirmations. */
  lastBlockHash: text(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** `Deposited` events credited to the ledger: the key (chain, tx, log) makes a credit happen once. */
export const deposits = pgTable(
  "deposits",
  {
    chainId: integer().notNull(),
    txHash: text().notNull(),
    logIndex: integer().notNull(),
    blockNumber: bigint({ mode: "bigint" }).notNull(),
    blockHash: text().notNull(),
    /** The bytes32 account of the event; accountId when it names one of ours. */
    account: text().notNull(),
    accountId: uuid().references(() => accounts.id),
    fromAddress: text().notNull(),
    /** USDC base units (1e-6). */
    amountBase: bigint({ mode: "bigint" }).notNull(),
    /** credited: on the ledger; unmatched: no such account (held in escrow, for an operator to resolve). */
    status: text({ enum: ["credited", "unmatched"] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.chainId, t.txHash, t.logIndex] }), index().on(t.accountId, t.createdAt)],
);

/** `WithdrawalRequested` events: the ledger holds what the customer may still withdraw, at once. */
export const withdrawals = pgTable(
  "withdrawals",
  {
    chainId: integer().notNull(),
    txHash: text().notNull(),
    logIndex: integer().notNull(),
    account: text().notNull(),
    accountId: uuid().references(() => accounts.id),
    owner: text().notNull(),
    requestedBase: bigint({ mode: "bigint" }).notNull(),
    /** What the ledger held: the requested amount, or the unspent balance if lower (the operator limits the rest on chain). */
    heldBase: bigint({ mode: "bigint" }).notNull(),
    availableAt: timestamp({ withTimezone: true }).notNull(),
    /** held: the ledger holds less than was requested, and the operator must limit the on-chain amount; limited: it holds all of it (as requested, or after the limit). */
    status: text({ enum: ["held", "limited", "cancelled", "withdrawn"] }).notNull(),
    limitTxHash: text(),
    /**
     * The event that closed it (chainId:txhash:logIndex of `WithdrawalCancelled` or `Withdrawn`) and,
     * for a withdrawal, what the contract paid. Closing books the difference with the hold: a cancel
     * releases it all; a payout above the hold (not limited in time) is charged to the customer.
     */
    closedBy: text(),
    paidBase: bigint({ mode: "bigint" }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.chainId, t.txHash, t.logIndex] }), index().on(t.chainId, t.account)],
);
