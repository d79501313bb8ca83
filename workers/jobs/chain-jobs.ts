/**
 * The chain jobs as the worker runs them (cron and the admin endpoints), over its ports: failures an
 * operator must resolve become API errors, a sync refreshes routing and tells each account's guard
 * what it booked. The operator's signer arrives built: only the wiring reads its key.
 */
import { errors } from "../core/openai/errors";
import { ChainRpcError, ChainUnavailableError, DeepReorgError, EscrowShortfallError } from "../core/settlement/errors";
import type { ChainSyncResult, SettlementRun } from "../core/settlement/runs";
import type { Deps, Operator } from "../ports";
import { runChainSync } from "./chain-sync";
import { runSettlement } from "./settlement";

/** wrangler.toml's crons: probes and chain sync every minute; settlement closes a period every hour. */
export const SETTLEMENT_CRON = "0 * * * *";

function chainOf(deps: Pick<Deps, "cfg" | "chainJobs">) {
  if (!deps.cfg.chain || !deps.chainJobs)
    throw errors.notConfigured("No chain is configured (CHAIN_RPC_URL, SETTLEMENT_ADDRESS, USDC_ADDRESS).");
  return { config: deps.cfg.chain, ...deps.chainJobs };
}

export async function chainSyncJob(deps: Pick<Deps, "cfg" | "chainJobs" | "guard" | "routes">): Promise<ChainSyncResult> {
  const { config, chain, syncStore } = chainOf(deps);
  try {
    const result = await runChainSync({
      store: syncStore,
      chain,
      config,
      onBooked: (b) => deps.guard.credit(b.accountId, b.amountPico, b.entryId),
    });
    deps.routes.invalidate(); // stakes may have changed who is routable
    return result;
  } catch (err) {
    if (err instanceof DeepReorgError) throw errors.jobBlocked(err.message, "deep_reorg");
    throw chainFailure("The chain sync", err);
  }
}

/** A node that could not be reached is a 503 (try again), one that answered an error a 502; anything else as it was. */
function chainFailure(job: string, err: unknown): unknown {
  if (err instanceof ChainUnavailableError) return errors.chainFailed(false, `${job} could not reach the chain: ${err.message}`);
  if (err instanceof ChainRpcError) return errors.chainFailed(true, `${job} failed on the chain: ${err.message}`);
  return err;
}

/** `operator` is null when the OPERATOR_PRIVATE_KEY secret is unset. */
export async function settlementJob(
  deps: Pick<Deps, "cfg" | "chainJobs" | "now">,
  operator: Operator | null,
  waitMs?: number,
): Promise<SettlementRun> {
  const { config, chain, settlementStore } = chainOf(deps);
  if (!operator) throw errors.notConfigured("Settlement needs the OPERATOR_PRIVATE_KEY secret.");
  try {
    return await runSettlement({
      store: settlementStore,
      chain,
      operator,
      config,
      now: deps.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      waitMs,
    });
  } catch (err) {
    if (err instanceof EscrowShortfallError) throw errors.jobBlocked(err.message, "escrow_shortfall");
    throw chainFailure("Settlement", err);
  }
}
