/**
 * Who may read which figures, and over which window: the finance API's and the dashboard's rules,
 * in one place. A finance key sees its own account; an operator's key (scope "all") sees every
 * account, may narrow to one, and alone sees the provider side.
 */
import type { KeyRecord } from "../../core/auth/keys";
import { reportRange } from "../../core/finance/range";
import type { FinanceScope } from "../../core/finance/views";
import { errors } from "../../core/openai/errors";
import type { Deps } from "../../ports";

/** The key's own account; an operator's key sees all, or the one account it names. */
export function financeScope(key: Pick<KeyRecord, "scope" | "accountId">, accountId: string | undefined): FinanceScope {
  if (key.scope === "all") return accountId ? { kind: "account", accountId } : { kind: "all" };
  if (accountId !== undefined && accountId !== key.accountId) {
    throw errors.forbidden("Only an operator's finance key may read another account ('account_id').");
  }
  return { kind: "account", accountId: key.accountId };
}

export function requireOperator(key: Pick<KeyRecord, "scope">): void {
  if (key.scope !== "all") throw errors.forbidden("The provider side of the books is for an operator's finance key (scope 'all').");
}

/** [from, to): by default the last 30 whole UTC days up to the end of today; a bad range is a 400 naming the param. */
export function reportWindow(p: { from?: Date; to?: Date }, nowMs: number, hourly = false): { from: Date; to: Date } {
  const r = reportRange(p, nowMs, hourly);
  if ("error" in r) throw errors.invalidRequest(r.message, r.error === "invalid_range" ? "from" : "to", r.error);
  return r;
}

/** What the books' chain fields are shown against: the chain's head (for confirmations) and the explorer. */
export interface ChainView {
  head: bigint | null;
  explorerTxUrl: string | null;
}

/** The head is informative: with no chain, or an unreachable node, confirmations show as unknown rather than failing the page. */
export async function chainView(deps: Pick<Deps, "cfg" | "chainHead">): Promise<ChainView> {
  const view = (head: bigint | null): ChainView => ({ head, explorerTxUrl: deps.cfg.explorerTxUrl });
  if (!deps.chainHead) return view(null);
  try {
    return view(await deps.chainHead.head());
  } catch (err) {
    console.error(`finance: chain head unavailable: ${err instanceof Error ? err.message : String(err)}`);
    return view(null);
  }
}
