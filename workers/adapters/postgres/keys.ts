import { eq } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { apiKeys } from "../../../db/schema";
import type { KeyRecord } from "../../core/auth/keys";

/** The key whose secret hashes to `secretHash`, with the hash itself for a constant-time check. */
export async function findKeyByHash(db: Db, secretHash: string): Promise<KeyRecord | null> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.secretHash, secretHash)).limit(1);
  if (!row) return null;
  return {
    id: row.id,
    accountId: row.accountId,
    role: row.role,
    scope: row.scope,
    revoked: row.revokedAt !== null,
    allowedModels: row.allowedModels,
    rpm: row.rpm,
    tpm: row.tpm,
    budgetPico: row.budgetPico,
    secretHash: row.secretHash,
  };
}
