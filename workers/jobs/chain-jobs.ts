/**
 * The chain jobs as the worker runs them (cron and the admin endpoints): ports wired to workerd's
 * database, the account guards, and — for settlement only — the operator key.
 */
import type { Deps } from "../deps";
import type { Env } from "../env";
import { errors } from "../core/openai/errors";
import { chainReader } from "../adapters/chain/reader";
import { operator } from "../adapters/chain/operator";
import { EscrowShortfallError } from "../adapters/postgres/settlement";
import { DeepReorgError, runChainSync, type ChainSyncResult } from "./chain-sync";
import { runSettlement, type SettlementRun } from "./settlement";

/** wrangler.toml's crons: probes and chain sync every minute; settlement closes a period every hour. */
export const SETTLEMENT_CRON = "0 * * * *";

function chainOf(deps: Deps) {
  if (!deps.cfg.chain) throw errors.notConfigured("No chain is configured (CHAIN_RPC_URL, SETTLEMENT_ADDRESS, USDC_ADDRESS).");
  return deps.cfg.chain;
}

export async function chainSyncJob(deps: Deps): Promise<ChainSyncResult> {
  const config = chainOf(deps);
  try {
    const result = await deps.withDb((db) => runChainSync({
      db, chain: chainReader(config), config, onBooked: (b) => deps.guard.credit(b.accountId, b.amountPico, b.entryId),
    }));
    deps.routes.invalidate(); // stakes may have changed who is routable
    return result;
  } catch (err) {
    if (err instanceof DeepReorgError) throw errors.jobBlocked(err.message, "deep_reorg");
    throw err;
  }
}

/** The only reader of OPERATOR_PRIVATE_KEY in the worker. */
export async function settlementJob(deps: Deps, env: Pick<Env, "OPERATOR_PRIVATE_KEY">, waitMs?: number): Promise<SettlementRun> {
  const config = chainOf(deps);
  if (!env.OPERATOR_PRIVATE_KEY) throw errors.notConfigured("Settlement needs the OPERATOR_PRIVATE_KEY secret.");
  const chain = chainReader(config);
  try {
    return await deps.withDb((db) => runSettlement({
      db, chain, operator: operator(chain, env.OPERATOR_PRIVATE_KEY!), config, now: deps.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)), waitMs,
    }));
  } catch (err) {
    if (err instanceof EscrowShortfallError) throw errors.jobBlocked(err.message, "escrow_shortfall");
    throw err;
  }
}
