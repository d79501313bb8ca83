/** What requests used and cost: usage events, admissions, provider receipts and the hourly/daily rollups. */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";
import { accounts, apiKeys } from "./accounts";
import { providers } from "./providers";

export const usageEvents = pgTable(
  "usage_events",
  {
    /** A retried meter() collapses here. */
    requestId: text().primaryKey(),
    keyId: uuid()
      .notNull()
      .references(() => apiKeys.id),
    accountId: uuid()
      .notNull()
      .references(() => accounts.id),
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
    receiptStatus: text({ enum: ["verified", "unverified", "none"] })
      .notNull()
      .default("none"),
    ttftMs: integer(),
    durationMs: integer().notNull(),
    edge: text().notNull(),
    attempts: integer().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.accountId, t.createdAt), index().on(t.providerId, t.createdAt)],
);

/** Provider-signed EIP-712 receipts, as received inline or from the agent's outbox. */
export const receipts = pgTable(
  "receipts",
  {
    requestId: text().primaryKey(),
    providerId: text()
      .notNull()
      .references(() => providers.id),
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
    /** For a receipt signed by the batch (SPEC §2.1): the root `signature` signs and the path to it. */
    batch: jsonb().$type<{ root: string; proof: string[] }>(),
    source: text({ enum: ["inline", "outbox"] }).notNull(),
    /** What the gateway concluded when it compared the receipt with what it saw. */
    status: text({ enum: ["verified", "mismatch", "orphan"] }).notNull(),
    /** The settlement period whose Merkle root commits this receipt; null until that period closes. */
    periodId: bigint({ mode: "number" }),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.providerId, t.createdAt), index().on(t.periodId)],
);

/**
 * Admissions, as the account's Durable Object granted them (written in batches, off the request
 * path): who a request id belongs to and the most it may cost. A provider's receipt for a request
 * that never reported back (its isolate died) is billed from here, up to the reserved amount.
 */
export const reservations = pgTable(
  "reservations",
  {
    requestId: text().primaryKey(),
    accountId: uuid()
      .notNull()
      .references(() => accounts.id),
    keyId: uuid()
      .notNull()
      .references(() => apiKeys.id),
    endpoint: text({ enum: ["chat", "completions", "embeddings"] }).notNull(),
    amountPico: bigint({ mode: "bigint" }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    settledAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.accountId, t.createdAt)],
);

/**
 * Usage pre-aggregated per hour and per day (bucket start, UTC), per account × key × model ×
 * provider, updated in the same transaction as the usage events they count: finance queries read
 * these, never a scan of usage_events.
 */
export const usageRollups = pgTable(
  "usage_rollups",
  {
    grain: text({ enum: ["hour", "day"] }).notNull(),
    bucket: timestamp({ withTimezone: true }).notNull(),
    accountId: uuid()
      .notNull()
      .references(() => accounts.id),
    keyId: uuid()
      .notNull()
      .references(() => apiKeys.id),
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
  },
  (t) => [
    primaryKey({ columns: [t.grain, t.bucket, t.accountId, t.keyId, t.model, t.providerId] }),
    index().on(t.accountId, t.grain, t.bucket),
    index().on(t.grain, t.bucket),
    index().on(t.providerId, t.grain, t.bucket),
  ],
);

export type UsageEvent = typeof usageEvents.$inferSelect;
export type NewUsageEvent = typeof usageEvents.$inferInsert;
export type ReceiptRow = typeof receipts.$inferSelect;
