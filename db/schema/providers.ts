/** The provider registry: who serves which model at what price, and how fast each edge finds them. */
import { sql } from "drizzle-orm";
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";

export const providers = pgTable(
  "providers",
  {
    id: text().primaryKey(),
    /** Wallet address that signs registrations and receipts (bound at first registration). */
    address: text().unique(),
    url: text().notNull(),
    /**
     * The normalised endpoint whose agent proved it holds `address` (self-registration's challenge):
     * one endpoint, one provider. Null for a provider the operator registered.
     */
    endpoint: text().unique(),
    region: text().notNull().default(""),
    gpu: jsonb().$type<Record<string, unknown>>(),
    suspended: boolean().notNull().default(false),
    suspendedReason: text(),
    /**
     * When an operator last resumed it: latency observations of attempts begun before this are not
     * counted (they describe what the operator fixed). Null: never resumed.
     */
    resumedAt: timestamp({ withTimezone: true }),
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
    /** Set by every write (registration, heartbeat, probe, suspension, stake): the route table's refresh reads what moved. */
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("providers_updated_at_idx").on(t.updatedAt)],
);

export const providerModels = pgTable(
  "provider_models",
  {
    providerId: text()
      .notNull()
      .references(() => providers.id, { onDelete: "cascade" }),
    model: text().notNull(),
    endpoints: text().array().notNull().default(sql`'{chat,completions}'::text[]`),
    inputPrice: bigint({ mode: "bigint" }).notNull(),
    outputPrice: bigint({ mode: "bigint" }).notNull(),
    contextLength: integer().notNull().default(8192),
    /** Set on every write (a registration inserts its offers anew): the route table's refresh reads what moved. */
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.providerId, t.model] }), index("provider_models_updated_at_idx").on(t.updatedAt)],
);

/** EWMA latency and success per edge location × provider × model, folded in aggregated upserts. */
export const latencyStats = pgTable(
  "latency_stats",
  {
    edge: text().notNull(),
    providerId: text()
      .notNull()
      .references(() => providers.id, { onDelete: "cascade" }),
    model: text().notNull(),
    ttftMs: doublePrecision().notNull(),
    tpotMs: doublePrecision().notNull(),
    successRate: doublePrecision().notNull(),
    samples: integer().notNull(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.edge, t.providerId, t.model] }), index("latency_stats_edge_updated_at_idx").on(t.edge, t.updatedAt)],
);

export type Provider = typeof providers.$inferSelect;
export type ProviderModel = typeof providerModels.$inferSelect;
export type LatencyStatsRow = typeof latencyStats.$inferSelect;
