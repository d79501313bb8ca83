/**
 * Staking on start: the gateway routes only to providers whose active stake in the Settlement
 * contract reaches its minimum. `ensureStake` tops the wallet's stake up to that minimum (never
 * more); `stakeOnStart` is the agent's policy around it (skip, warn, retry, or give up).
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  BaseError,
  ContractFunctionRevertedError,
  erc20Abi,
  formatEther,
  formatUnits,
  InsufficientFundsError,
  isAddressEqual,
  type Address,
  type Hash,
} from "viem";
import type { LocalAccount } from "viem/accounts";
import { describe, FatalError } from "./errors";
import { backoffMs, type GatewayIdentity } from "./gateway-client";
import { assertChainId, l2PublicClient, l2WalletClient, redactUrl, settlementAbi } from "./l2";

/** A reason staking cannot succeed until someone acts (fund the wallet, fix the URL): not retried. */
export class StakeError extends FatalError {}

export interface EnsureStakeOptions {
  rpcUrl: string;
  chainId: number;
  account: LocalAccount;
  settlement: Address;
  usdc: Address;
  /** USDC base units (6 decimals). */
  minStakeBase: bigint;
  log: (line: string) => void;
}

export interface StakeResult {
  /** Active stake before and after, in USDC base units. */
  before: bigint;
  after: bigint;
  /** What this call staked (0n when the stake already sufficed). */
  staked: bigint;
  txHash: Hash | null;
}

const usdc = (base: bigint) => `${formatUnits(base, 6)} USDC`;

export async function ensureStake(o: EnsureStakeOptions): Promise<StakeResult> {
  const pub = l2PublicClient(o.chainId, o.rpcUrl);
  const me = o.account.address;
  await assertChainId(pub, o.chainId, o.rpcUrl);
  const settlement = { address: o.settlement, abi: settlementAbi } as const;
  const token = { address: o.usdc, abi: erc20Abi } as const;

  const before = await pub.readContract({ ...settlement, functionName: "stakeOf", args: [me] });
  if (before >= o.minStakeBase) {
    o.log(`stake ${usdc(before)} at ${o.settlement} already meets the minimum ${usdc(o.minStakeBase)}; nothing to stake`);
    return { before, after: before, staked: 0n, txHash: null };
  }
  const shortfall = o.minStakeBase - before;

  // Checked up front so the operator reads what to fund, not a revert from deep in a transaction.
  const [stakedToken, balance, eth, allowance] = await Promise.all([
    pub.readContract({ ...settlement, functionName: "usdc" }),
    pub.readContract({ ...token, functionName: "balanceOf", args: [me] }),
    pub.getBalance({ address: me }),
    pub.readContract({ ...token, functionName: "allowance", args: [me, o.settlement] }),
  ]);
  if (!isAddressEqual(stakedToken, o.usdc))
    throw new StakeError(`Settlement ${o.settlement} stakes token ${stakedToken}, but the gateway names USDC ${o.usdc}`);
  if (balance < shortfall)
    throw new StakeError(
      `wallet ${me} holds ${usdc(balance)}, needs ${usdc(shortfall)} to stake (minimum ${usdc(o.minStakeBase)}, staked ${usdc(before)})`,
    );
  if (eth === 0n) throw new StakeError(`wallet ${me} holds no ETH on chain ${o.chainId} to pay gas for staking`);

  const wallet = l2WalletClient(o.chainId, o.rpcUrl, o.account);
  try {
    // approve + stake rather than an EIP-2612 permit: Settlement has no stakeWithPermit, so a permit
    // would be one more transaction of ours anyway (permit, then stake), and approve works with any
    // ERC-20. Approving exactly the shortfall also makes a retry after a crash safe: an allowance left
    // by an unfinished run is reused, and a stake sent twice cannot pull more than that allowance.
    if (allowance < shortfall) {
      await mined(pub, await wallet.writeContract({ ...token, functionName: "approve", args: [o.settlement, shortfall] }), "USDC approve");
    }
    const txHash = await wallet.writeContract({ ...settlement, functionName: "stake", args: [shortfall] });
    await mined(pub, txHash, "Settlement.stake");
    const after = await pub.readContract({ ...settlement, functionName: "stakeOf", args: [me] });
    o.log(
      `staked ${usdc(shortfall)} at ${o.settlement} (tx ${txHash}): stake ${usdc(before)} → ${usdc(after)}, minimum ${usdc(o.minStakeBase)}`,
    );
    return { before, after, staked: shortfall, txHash };
  } catch (err) {
    throw asStakeError(err, me, eth, o.chainId);
  }
}

async function mined(pub: ReturnType<typeof l2PublicClient>, hash: Hash, what: string): Promise<void> {
  const receipt = await pub.waitForTransactionReceipt({ hash, timeout: 120_000 });
  if (receipt.status !== "success") throw new StakeError(`${what} transaction ${hash} reverted`);
}

/** Lack of gas money and contract reverts will not pass by retrying; a network failure may. */
function asStakeError(err: unknown, me: Address, eth: bigint, chainId: number): unknown {
  if (err instanceof StakeError || !(err instanceof BaseError)) return err;
  if (err.walk((e) => e instanceof InsufficientFundsError))
    return new StakeError(`wallet ${me} holds ${formatEther(eth)} ETH on chain ${chainId}, not enough gas to stake`);
  const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (revert instanceof ContractFunctionRevertedError)
    return new StakeError(`staking reverted: ${revert.data?.errorName ?? revert.reason ?? revert.shortMessage}`);
  return err;
}

type Log = (line: string) => void;

/**
 * The agent's staking step, between learning the gateway's identity and registering. Nothing to do
 * when the gateway asks for no stake; a warning (and no stake) without --rpc-url; a StakeError
 * ends the start; anything else (RPC down, timeouts) is retried with backoff until `signal` aborts.
 */
export async function stakeOnStart(
  identity: GatewayIdentity,
  cfg: { rpcUrl?: string; chainId: number; account: LocalAccount },
  signal: AbortSignal,
  log: Log,
): Promise<StakeResult | null> {
  const chain = identity.chain;
  if (!chain || chain.min_stake_base === 0n) return null;
  if (!cfg.rpcUrl) {
    log(
      `warning: the gateway requires a stake of ${usdc(chain.min_stake_base)} in ${chain.settlement} and no --rpc-url (MESHGATE_RPC_URL) was given: ` +
        `this agent will not stake, and will not be routed to until ${cfg.account.address} has staked`,
    );
    return null;
  }
  const opts: EnsureStakeOptions = {
    rpcUrl: cfg.rpcUrl,
    chainId: cfg.chainId,
    account: cfg.account,
    settlement: chain.settlement,
    usdc: chain.usdc,
    minStakeBase: chain.min_stake_base,
    log,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      return await ensureStake(opts);
    } catch (err) {
      if (err instanceof FatalError || signal.aborted) throw err;
      const why = err instanceof BaseError ? err.shortMessage : describe(err); // viem's messages run to many lines
      if (attempt % 10 === 0) log(`staking via ${redactUrl(cfg.rpcUrl)} failed (${why}); retrying`);
    }
    await sleep(backoffMs(attempt), undefined, { signal });
  }
}
