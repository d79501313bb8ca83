/**
 * Every table, in one file. Money is bigint: pico-USDC (1e-12) in the books, prices in
 * micro-USDC per million tokens (= pico-USDC per token). Idempotency lives in constraints.
 * The ledger, on-chain deposits and settlement batches are here too.
 */
import { sql } from "drizzle-orm";
import {
  bigint, bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid,
} from "drizzle-orm/pg-core";

const createdAt = () => timestamp({ withTimezone: true }).notNull().defaultNow();

export const accounts = pgTable("accounts", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull(),
  createdAt: createdAt(),
});

export const apiKeys = pgTable("api_keys", {
  id: uuid().primaryKey().defaultRandom(),
  accountId: uuid().notNull().references(() => accounts.id),
  name: text().notNull().default(""),
  /** The first characters of the secret, shown in listings; the rest is only hashed. */
  prefix: text().notNull(),
  /** SHA-256 of the whole secret, hex. */
  secretHash: text().notNull().unique(),
  role: text({ enum: ["inference", "finance"] }).notNull().default("inference"),
  /** account: the key sees its own account; all: an operator's finance key, every account and the provider side. */
  scope: text({ enum: ["account", "all"] }).notNull().default("account"),
  budgetPico: bigint({ mode: "bigint" }),
  rpm: integer(),
  tpm: integer(),
  allowedModels: text().array(),
  revokedAt: timestamp({ withTimezone: true }),
  createdAt: createdAt(),
});

export const providers = pgTable("providers", {
  id: text().primaryKey(),
  /** Wallet address that signs registrations and receipts (bound at first registration). */
  address: text().unique(),
  url: text().notNull(),
  region: text().notNull().default(""),
  gpu: jsonb().$type<Record<string, unknown>>(),
  suspended: boolean().notNull().default(false),
  suspendedReason: text(),
  lastHeartbeatAt: timestamp({ withTimezone: true }),
  runningRequests: integer().notNull().default(0),
  waitingRequests: integer().notNull().default(0),
  maxWaitingRequests: integer().notNull().default(32),
  kvCacheUsage: doublePrecision().notNull().default(0),
  tokensServed: bigint({ mode: "bigint" }).notNull().default(sql`0`),
  maxConcurrency: integer().notNull().default(32),
  /** The agent is shutting down: finish what runs, route nothing new. */
  draining: boolean().notNull().default(false),
  /** Signed-message timestamp of the last accepted heartbeat: a replayed heartbeat is older. */
  lastMessageAtMs: bigint({ mode: "number" }).notNull().default(0),
  /** Active stake in the Settlement contract (USDC base units), as the chain job last read it; null: never read. */
  stakeBase: bigint({ mode: "bigint" }),
  stakeCheckedAt: timestamp({ withTimezone: true }),
  createdAt: createdAt(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

export const providerModels = pgTable("provider_models", {
  providerId: text().notNull().references(() => providers.id, { onDelete: "cascade" }),
  model: text().notNull(),
  endpoints: text().array().notNull().default(sql`'{chat,completions}'::text[]`),
  inputPrice: bigint({ mode: "bigint" }).notNull(),
  outputPrice: bigint({ mode: "bigint" }).notNull(),
  contextLength: integer().notNull().default(8192),
}, (t) => [primaryKey({ columns: [t.providerId, t.model] })]);

/** EWMA latency and success per edge location × provider × model, folded in aggregated upserts. */
export const latencyStats = pgTable("latency_stats", {
  edge: text().notNull(),
  providerId: text().notNull().references(() => providers.id, { onDelete: "cascade" }),
  model: text().notNull(),
  ttftMs: doublePrecision().notNull(),
  tpotMs: doublePrecision().notNull(),
  successRate: doublePrecision().notNull(),
  samples: integer().notNull(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.edge, t.providerId, t.model] })]);

export const usageEvents = pgTable("usage_events", {
  /** A retried meter() collapses here. */
  requestId: text().primaryKey(),
  keyId: uuid().notNull().references(() => apiKeys.id),
  accountId: uuid().notNull().references(() => accounts.id),
  providerId: text().references(() => providers.id),
  model: text().notNull(),
  endpoint: text({ enum: ["chat", "completions", "embeddings"] }).notNull(),
  stream: boolean().notNull(),
  promptTokens: integer().notNull(),
  completionTokens: integer().notNull(),
  costPico: bigint({ mode: "bigint" }).notNull(),
  /** The protocol's share of costPico; the provider earns the rest. */
  feePico: bigint({ mode: "bigint" }).notNull().default(sql`0`),
  /** ok: complete; partial: cut short, billed for what was delivered; failed: nothing billed. */
  status: text({ enum: ["ok", "partial", "failed"] }).notNull(),
  errorCode: text(),
  /** verified: the provider's signed receipt matched what the gateway saw; unverified: missing, invalid or mismatched. */
  receiptStatus: text({ enum: ["verified", "unverified", "none"] }).notNull().default("none"),
  ttftMs: integer(),
  durationMs: integer().notNull(),
  edge: text().notNull(),
  attempts: integer().notNull(),
  createdAt: createdAt(),
}, (t) => [
  index().on(t.accountId, t.createdAt),
  index().on(t.providerId, t.createdAt),
]);

/** Provider-signed EIP-712 receipts, as received inline or from the agent's outbox. */
export const receipts = pgTable("receipts", {
  requestId: text().primaryKey(),
  providerId: text().notNull().references(() => providers.id),
  signer: text().notNull(),
  model: text().notNull(),
  promptTokens: integer().notNull(),
  completionTokens: integer().notNull(),
  inputPrice: bigint({ mode: "bigint" }).notNull(),
  outputPrice: bigint({ mode: "bigint" }).notNull(),
  responseHash: text().notNull(),
  signedAtMs: bigint({ mode: "number" }).notNull(),
  /** EIP-712 digest: the Merkle leaf of the settlement period. */
  digest: text().notNull().unique(),
  signature: text().notNull(),
  source: text({ enum: ["inline", "outbox"] }).notNull(),
  /** What the gateway concluded when it compared the receipt with what it saw. */
  status: text({ enum: ["verified", "mismatch", "orphan"] }).notNull(),
  /** The settlement period whose Merkle root commits this receipt; null until that period closes. */
  periodId: bigint({ mode: "number" }),
  createdAt: createdAt(),
}, (t) => [index().on(t.providerId, t.createdAt), index().on(t.periodId)]);

/**
 * The double-entry ledger: each transaction (kind + reference) is a set of postings that sum to
 * zero; positive credits the holder. Accounts are `customer:<id>`, `provider:<id>`,
 * `protocol:fees`, `protocol:grants`, `external:deposits`. A posting is written once per
 * (kind, reference, account), so a replayed write adds nothing. Balances are sums of postings.
 */
export const ledgerEntries = pgTable("ledger_entries", {
  id: bigserial({ mode: "number" }).primaryKey(),
  kind: text({ enum: ["usage", "adjustment", "grant", "deposit", "withdrawal", "settlement"] }).notNull(),
  /** usage: the request id; grant: the grant id; deposit, withdrawal: chainId:txhash:logIndex; settlement: the batch id. */
  reference: text().notNull(),
  account: text().notNull(),
  amountPico: bigint({ mode: "bigint" }).notNull(),
  createdAt: createdAt(),
}, (t) => [
  unique().on(t.kind, t.reference, t.account),
  index().on(t.account, t.createdAt),
  // The finance API pages an account's postings newest first by id.
  index().on(t.account, t.id),
]);

/**
 * Admissions, as the account's Durable Object granted them (written in batches, off the request
 * path): who a request id belongs to and the most it may cost. A provider's receipt for a request
 * that never reported back (its isolate died) is billed from here, up to the reserved amount.
 */
export const reservations = pgTable("reservations", {
  requestId: text().primaryKey(),
  accountId: uuid().notNull().references(() => accounts.id),
  keyId: uuid().notNull().references(() => apiKeys.id),
  endpoint: text({ enum: ["chat", "completions", "embeddings"] }).notNull(),
  amountPico: bigint({ mode: "bigint" }).notNull(),
  createdAt: timestamp({ withTimezone: true }).notNull(),
  expiresAt: timestamp({ withTimezone: true }).notNull(),
  settledAt: timestamp({ withTimezone: true }),
}, (t) => [index().on(t.accountId, t.createdAt)]);

/** Credits granted by an operator (until deposits arrive on chain): what a grant entry traces to. */
export const creditGrants = pgTable("credit_grants", {
  id: uuid().primaryKey().defaultRandom(),
  accountId: uuid().notNull().references(() => accounts.id),
  amountPico: bigint({ mode: "bigint" }).notNull(),
  note: text(),
  createdAt: createdAt(),
});

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
export const deposits = pgTable("deposits", {
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
}, (t) => [primaryKey({ columns: [t.chainId, t.txHash, t.logIndex] }), index().on(t.accountId, t.createdAt)]);

/** `WithdrawalRequested` events: the ledger holds what the customer may still withdraw, at once. */
export const withdrawals = pgTable("withdrawals", {
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
}, (t) => [primaryKey({ columns: [t.chainId, t.txHash, t.logIndex] }), index().on(t.chainId, t.account)]);

/**
 * A settlement period: receipts and provider earnings up to `cutoff`, committed by one Merkle root
 * and paid by one or more batches. At most one period is open (its batches not all settled): a
 * new period's payouts are computed only from a ledger that already records every earlier one.
 */
export const settlementPeriods = pgTable("settlement_periods", {
  id: bigserial({ mode: "number" }).primaryKey(),
  chainId: integer().notNull(),
  cutoff: timestamp({ withTimezone: true }).notNull(),
  merkleRoot: text().notNull(),
  receiptCount: integer().notNull(),
  status: text({ enum: ["open", "settled"] }).notNull(),
  createdAt: createdAt(),
  settledAt: timestamp({ withTimezone: true }),
}, (t) => [uniqueIndex("settlement_periods_one_open").on(t.status).where(sql`status = 'open'`)]);

export interface PayoutRow { providerId: string; address: string; amountBase: string }

/**
 * One `settle` transaction. recorded → sending (signed: nonce, hash and raw bytes stored before the
 * broadcast) → settled (confirmed on chain, ledger written in the same database transaction).
 * A reverted send goes back to recorded with its error; it is never re-signed while its hash may land.
 */
export const settlementBatches = pgTable("settlement_batches", {
  /** bytes32 hex: the on-chain batch id. */
  id: text().primaryKey(),
  periodId: bigint({ mode: "number" }).notNull().references(() => settlementPeriods.id),
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
}, (t) => [index().on(t.periodId), index().on(t.status)]);

/**
 * Usage pre-aggregated per hour and per day (bucket start, UTC), per account × key × model ×
 * provider, updated in the same transaction as the usage events they count: finance queries read
 * these, never a scan of usage_events.
 */
export const usageRollups = pgTable("usage_rollups", {
  grain: text({ enum: ["hour", "day"] }).notNull(),
  bucket: timestamp({ withTimezone: true }).notNull(),
  accountId: uuid().notNull().references(() => accounts.id),
  keyId: uuid().notNull().references(() => apiKeys.id),
  model: text().notNull(),
  /** "" when no provider served the request. */
  providerId: text().notNull(),
  requests: bigint({ mode: "number" }).notNull(),
  failedRequests: bigint({ mode: "number" }).notNull().default(0),
  promptTokens: bigint({ mode: "bigint" }).notNull(),
  completionTokens: bigint({ mode: "bigint" }).notNull(),
  costPico: bigint({ mode: "bigint" }).notNull(),
  feePico: bigint({ mode: "bigint" }).notNull(),
  /** Requests per time-to-first-token bucket (upper bounds in workers/core/finance): a p50 without raw rows. */
  ttftHistogram: integer().array().notNull(),
}, (t) => [
  primaryKey({ columns: [t.grain, t.bucket, t.accountId, t.keyId, t.model, t.providerId] }),
  index().on(t.accountId, t.grain, t.bucket),
  index().on(t.grain, t.bucket),
  index().on(t.providerId, t.grain, t.bucket),
]);

/**
 * Dashboard sign-ins: the cookie holds a random token, only its hash is stored; signing out or
 * expiry ends it server-side. A finance session belongs to a finance key, a provider session to a
 * provider wallet.
 */
export const dashboardSessions = pgTable("dashboard_sessions", {
  tokenHash: text().primaryKey(),
  kind: text({ enum: ["finance", "provider"] }).notNull(),
  keyId: uuid().references(() => apiKeys.id),
  providerId: text().references(() => providers.id),
  createdAt: createdAt(),
  expiresAt: timestamp({ withTimezone: true }).notNull(),
  revokedAt: timestamp({ withTimezone: true }),
});

export type Account = typeof accounts.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type Provider = typeof providers.$inferSelect;
export type ProviderModel = typeof providerModels.$inferSelect;
export type LatencyStatsRow = typeof latencyStats.$inferSelect;
export type UsageEvent = typeof usageEvents.$inferSelect;
export type NewUsageEvent = typeof usageEvents.$inferInsert;
export type ReceiptRow = typeof receipts.$inferSelect;
export type SettlementBatchRow = typeof settlementBatches.$inferSelect;
export type SettlementPeriodRow = typeof settlementPeriods.$inferSelect;
