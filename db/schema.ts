/**
 * Every table, in one file. Money is bigint: pico-USDC (1e-12) in the books, prices in
 * micro-USDC per million tokens (= pico-USDC per token). Idempotency lives in constraints.
 * The ledger is here; deposits and settlement batches come beside it.
 */
import { sql } from "drizzle-orm";
import {
  bigint, bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uuid,
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
  createdAt: createdAt(),
}, (t) => [index().on(t.providerId, t.createdAt)]);

/**
 * The double-entry ledger: each transaction (kind + reference) is a set of postings that sum to
 * zero; positive credits the holder. Accounts are `customer:<id>`, `provider:<id>`,
 * `protocol:fees`, `protocol:grants`, `external:deposits`. A posting is written once per
 * (kind, reference, account), so a replayed write adds nothing. Balances are sums of postings.
 */
export const ledgerEntries = pgTable("ledger_entries", {
  id: bigserial({ mode: "number" }).primaryKey(),
  kind: text({ enum: ["usage", "adjustment", "grant", "deposit", "settlement"] }).notNull(),
  /** usage: the request id; grant: the grant id; deposit: txhash:logIndex; settlement: the batch id. */
  reference: text().notNull(),
  account: text().notNull(),
  amountPico: bigint({ mode: "bigint" }).notNull(),
  createdAt: createdAt(),
}, (t) => [
  unique().on(t.kind, t.reference, t.account),
  index().on(t.account, t.createdAt),
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

export type Account = typeof accounts.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type Provider = typeof providers.$inferSelect;
export type ProviderModel = typeof providerModels.$inferSelect;
export type LatencyStatsRow = typeof latencyStats.$inferSelect;
export type UsageEvent = typeof usageEvents.$inferSelect;
export type NewUsageEvent = typeof usageEvents.$inferInsert;
export type ReceiptRow = typeof receipts.$inferSelect;
