/** Dashboard sign-in sessions. */
import { pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";
import { apiKeys } from "./accounts";
import { providers } from "./providers";

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
