/** The registry and key administration: accounts, keys, providers. Not on the request path. */
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Db, WithDb } from "../../../db/client";
import type { Admin, NewKey, ProviderUpsert } from "../../ports";
import { accounts, apiKeys, latencyStats, providerModels, providers } from "../../../db/schema";
import { customerAccount } from "../../core/money/ledger";
import { balancesOf, grantCredit } from "./ledger";

export type { NewKey, ProviderUpsert } from "../../ports";

/** The Admin port: each call in its own short database session. */
export function pgAdmin(withDb: WithDb): Admin {
  return {
    createAccount: (name) => withDb((db) => adminStore(db).createAccount(name)),
    listAccounts: () => withDb((db) => adminStore(db).listAccounts()),
    getAccount: (id) => withDb((db) => adminStore(db).getAccount(id)),
    grantCredit: (accountId, amountPico, note) => withDb((db) => adminStore(db).grantCredit(accountId, amountPico, note)),
    accountExists: (id) => withDb((db) => adminStore(db).accountExists(id)),
    createKey: (k) => withDb((db) => adminStore(db).createKey(k)),
    listKeys: (accountId) => withDb((db) => adminStore(db).listKeys(accountId)),
    keyAccount: (keyId) => withDb((db) => adminStore(db).keyAccount(keyId)),
    revokeKey: (id) => withDb((db) => adminStore(db).revokeKey(id)),
    listProviders: () => withDb((db) => adminStore(db).listProviders()),
    upsertProvider: (p) => withDb((db) => adminStore(db).upsertProvider(p)),
    setSuspended: (id, suspended, reason) => withDb((db) => adminStore(db).setSuspended(id, suspended, reason)),
    markProbed: (ids) => withDb((db) => adminStore(db).markProbed(ids)),
  };
}

function adminStore(db: Db) {
  return {
    createAccount: async (name: string) => (await db.insert(accounts).values({ name }).returning())[0]!,
    listAccounts: () => db.select().from(accounts).orderBy(desc(accounts.createdAt)),
    /** The account with its balance: the sum of its ledger postings. */
    getAccount: async (id: string) => {
      const [row] = await db.select().from(accounts).where(eq(accounts.id, id));
      if (!row) return null;
      const balancePico = (await balancesOf(db, [customerAccount(id)])).get(customerAccount(id))!;
      return { ...row, balancePico };
    },
    grantCredit: (accountId: string, amountPico: bigint, note: string | null) => grantCredit(db, accountId, amountPico, note),
    keyAccount: async (keyId: string) =>
      (await db.select({ accountId: apiKeys.accountId }).from(apiKeys).where(eq(apiKeys.id, keyId)).limit(1))[0]?.accountId ?? null,
    accountExists: async (id: string) => (await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, id))).length > 0,
    createKey: async (k: NewKey) => (await db.insert(apiKeys).values(k).returning())[0]!,
    listKeys: (accountId?: string) =>
      db
        .select({
          id: apiKeys.id,
          accountId: apiKeys.accountId,
          name: apiKeys.name,
          prefix: apiKeys.prefix,
          role: apiKeys.role,
          scope: apiKeys.scope,
          budgetPico: apiKeys.budgetPico,
          rpm: apiKeys.rpm,
          tpm: apiKeys.tpm,
          allowedModels: apiKeys.allowedModels,
          revokedAt: apiKeys.revokedAt,
          createdAt: apiKeys.createdAt,
        })
        .from(apiKeys)
        .where(accountId ? eq(apiKeys.accountId, accountId) : undefined)
        .orderBy(desc(apiKeys.createdAt)),
    revokeKey: async (id: string) =>
      (
        await db
          .update(apiKeys)
          .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
          .where(eq(apiKeys.id, id))
          .returning({ id: apiKeys.id })
      ).length > 0,
    listProviders: async () => {
      const rows = await db.select().from(providers).orderBy(providers.id);
      const models = await db.select().from(providerModels);
      return rows.map((p) => ({ ...p, models: models.filter((m) => m.providerId === p.id) }));
    },
    upsertProvider: async (p: ProviderUpsert) => {
      await db.transaction(async (tx) => {
        const values = {
          id: p.id,
          url: p.url,
          region: p.region,
          address: p.address,
          maxWaitingRequests: p.maxWaitingRequests,
          updatedAt: new Date(),
        };
        await tx.insert(providers).values(values).onConflictDoUpdate({ target: providers.id, set: values });
        await tx.delete(providerModels).where(eq(providerModels.providerId, p.id));
        if (p.models.length) await tx.insert(providerModels).values(p.models.map((m) => ({ ...m, providerId: p.id })));
      });
    },
    setSuspended: async (id: string, suspended: boolean, reason: string | null) => {
      // A resume is also a cut-off: latency observations of attempts begun before it are not counted (upsertLatency).
      const now = new Date();
      const found =
        (
          await db
            .update(providers)
            .set({ suspended, suspendedReason: suspended ? reason : null, updatedAt: now, ...(suspended ? {} : { resumedAt: now }) })
            .where(eq(providers.id, id))
            .returning({ id: providers.id })
        ).length > 0;
      // A resumed provider starts with a clean record: its old failures were what the operator fixed.
      if (found && !suspended)
        await db.update(latencyStats).set({ successRate: 1, samples: 0, updatedAt: now }).where(eq(latencyStats.providerId, id));
      return found;
    },
    /**
     * A probe's success stands in for the heartbeat of a provider without an agent (registered by
     * an operator, no wallet); a provider with a wallet must send its own signed heartbeats.
     */
    markProbed: async (ids: string[]) => {
      if (ids.length)
        await db
          .update(providers)
          .set({ lastHeartbeatAt: new Date(), updatedAt: new Date() })
          .where(and(inArray(providers.id, ids), isNull(providers.address)));
    },
  };
}
