/** Customer accounts and their API keys (inference and finance). */
import { bigint, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";

export const accounts = pgTable("accounts", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull(),
  createdAt: createdAt(),
});

export const apiKeys = pgTable("api_keys", {
  id: uuid().primaryKey().defaultRandom(),
  accountId: uuid()
    .notNull()
    .references(() => accounts.id),
  name: text().notNull().default(""),
  /** The first characters of the secret, shown in listings; the rest is only hashed. */
  prefix: text().notNull(),
  /** SHA-256 of the whole secret, hex. */
  secretHash: text().notNull().unique(),
  role: text({ enum: ["inference", "finance"] })
    .notNull()
    .default("inference"),
  /** account: the key sees its own account; all: an operator's finance key, every account and the provider side. */
  scope: text({ enum: ["account", "all"] })
    .notNull()
    .default("account"),
  budgetPico: bigint({ mode: "bigint" }),
  rpm: integer(),
  tpm: integer(),
  allowedModels: text().array(),
  revokedAt: timestamp({ withTimezone: true }),
  createdAt: createdAt(),
});

export type Account = typeof accounts.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
