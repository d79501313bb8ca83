/**
 * Dashboard sessions: a row per sign-in, found by the SHA-256 of the cookie's token. A session is
 * live only while it is unexpired, not signed out, and (finance) its key is not revoked: the key
 * is read with the session on every page, so revoking the key ends its sessions at once.
 */
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db, WithDb } from "../../../db/client";
import type { Sessions } from "../../ports";
import { apiKeys, dashboardSessions, providers } from "../../../db/schema";
import type { DashboardSession, NewDashboardSession } from "../../core/auth/dashboard-session";

export type { DashboardSession, NewDashboardSession };

export async function createDashboardSession(db: Db, s: NewDashboardSession): Promise<void> {
  await db
    .insert(dashboardSessions)
    .values(
      s.kind === "finance"
        ? { tokenHash: s.tokenHash, kind: "finance", keyId: s.keyId, expiresAt: s.expiresAt }
        : { tokenHash: s.tokenHash, kind: "provider", providerId: s.providerId, expiresAt: s.expiresAt },
    );
}

/** The live session for this token hash, or null (unknown, expired, signed out, or its key revoked). */
export async function findDashboardSession(db: Db, tokenHash: string, now: Date): Promise<DashboardSession | null> {
  const [row] = await db
    .select({
      kind: dashboardSessions.kind,
      keyId: apiKeys.id,
      accountId: apiKeys.accountId,
      scope: apiKeys.scope,
      keyName: apiKeys.name,
      keyPrefix: apiKeys.prefix,
      keyRole: apiKeys.role,
      keyRevokedAt: apiKeys.revokedAt,
      providerId: providers.id,
      address: providers.address,
    })
    .from(dashboardSessions)
    .leftJoin(apiKeys, eq(apiKeys.id, dashboardSessions.keyId))
    .leftJoin(providers, eq(providers.id, dashboardSessions.providerId))
    .where(and(eq(dashboardSessions.tokenHash, tokenHash), isNull(dashboardSessions.revokedAt), gt(dashboardSessions.expiresAt, now)))
    .limit(1);
  if (!row) return null;
  if (row.kind === "finance") {
    if (!row.keyId || !row.accountId || row.keyRole !== "finance" || row.keyRevokedAt !== null) return null;
    return {
      kind: "finance",
      keyId: row.keyId,
      accountId: row.accountId,
      scope: row.scope ?? "account",
      keyName: row.keyName ?? "",
      keyPrefix: row.keyPrefix ?? "",
    };
  }
  if (!row.providerId || !row.address) return null;
  return { kind: "provider", providerId: row.providerId, address: row.address };
}

export async function revokeDashboardSession(db: Db, tokenHash: string, now: Date): Promise<void> {
  await db
    .update(dashboardSessions)
    .set({ revokedAt: now })
    .where(and(eq(dashboardSessions.tokenHash, tokenHash), isNull(dashboardSessions.revokedAt)));
}

/** The Sessions port: each call in its own short database session. */
export function pgSessions(withDb: WithDb): Sessions {
  return {
    create: (s) => withDb((db) => createDashboardSession(db, s)),
    find: (hash, now) => withDb((db) => findDashboardSession(db, hash, now)),
    revoke: (hash, now) => withDb((db) => revokeDashboardSession(db, hash, now)),
  };
}
