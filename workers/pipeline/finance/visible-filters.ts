/**
 * A report filter that names something the caller's scope cannot see is answered like a thing that
 * does not exist: 404, never an empty report that confirms the id is real somewhere else. Applies to
 * `key_id` (keys belong to accounts); models and providers are public (GET /v1/models lists both),
 * so filtering on one is never a disclosure and an unused one is just an empty report.
 */
import type { FinanceScope } from "../../core/finance/views";
import { errors } from "../../core/openai/errors";
import type { Deps } from "../../ports";

/** Whether the scope sees the key (true when no key is named). */
export async function keyVisible(deps: Pick<Deps, "admin">, scope: FinanceScope, keyId: string | undefined): Promise<boolean> {
  if (keyId === undefined) return true;
  // One indexed lookup of the key's owner, not a listing of every key the scope holds.
  const owner = await deps.admin.keyAccount(keyId);
  return owner !== null && (scope.kind === "all" || owner === scope.accountId);
}

/** The same 404 for a key of another account as for a key that does not exist. */
export async function requireVisibleKey(deps: Pick<Deps, "admin">, scope: FinanceScope, keyId: string | undefined): Promise<void> {
  if (!(await keyVisible(deps, scope, keyId))) throw errors.notFound(`Key '${keyId}'`);
}
