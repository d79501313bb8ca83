/**
 * The chain settings: part of the worker's configuration, and all the Node job runner reads.
 * (No workerd types here, so Node tools can import it.)
 */
import { z } from "zod";

/** The chain settings, alone: the Node job runner reads just these. */
export const ChainSchema = z.object({
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  CHAIN_RPC_URL: z.url({ protocol: /^https?$/ }).optional(),
  SETTLEMENT_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address").optional(),
  USDC_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address").optional(),
  CHAIN_CONFIRMATIONS: z.coerce.number().int().min(1).max(1000).default(3),
  CHAIN_START_BLOCK: z.coerce.bigint().min(0n).default(0n),
  MIN_STAKE_USDC: z.string().regex(/^\d{1,12}(\.\d{1,6})?$/, "a decimal number of USDC").default("0"),
  SETTLEMENT_MAX_PAYOUTS: z.coerce.number().int().min(1).max(2000).default(400),
  SETTLEMENT_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(20_000),
});

export interface ChainConfig {
  rpcUrl: string;
  chainId: number;
  settlement: `0x${string}`;
  usdc: `0x${string}`;
  /** A block counts once it has this many confirmations (itself included). */
  confirmations: number;
  /** Where the event readers start on a fresh database (the contract's deploy block). */
  startBlock: bigint;
  /** Providers with less active stake (USDC base units) are not routed to. */
  minStakeBase: bigint;
  /** Payouts per `settle` transaction; a larger period is split. */
  maxPayoutsPerBatch: number;
  /** How long a job run waits for its transaction's confirmations before leaving it for the next run. */
  settlementWaitMs: number;
}

/** The chain settings from environment variables (Node tools); throws naming the bad variable. */
export function readChainConfig(vars: Record<string, string | undefined>): ChainConfig | null {
  const parsed = ChainSchema.safeParse(vars);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid configuration: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return chainConfig(parsed.data);
}

export function chainConfig(e: z.infer<typeof ChainSchema>): ChainConfig | null {
  if (!e.CHAIN_RPC_URL) return null;
  if (!e.SETTLEMENT_ADDRESS || !e.USDC_ADDRESS) {
    throw new Error("Invalid configuration: CHAIN_RPC_URL is set, so SETTLEMENT_ADDRESS and USDC_ADDRESS are required");
  }
  const [whole, frac = ""] = e.MIN_STAKE_USDC.split(".");
  return {
    rpcUrl: e.CHAIN_RPC_URL,
    chainId: e.CHAIN_ID,
    settlement: e.SETTLEMENT_ADDRESS as `0x${string}`,
    usdc: e.USDC_ADDRESS as `0x${string}`,
    confirmations: e.CHAIN_CONFIRMATIONS,
    startBlock: e.CHAIN_START_BLOCK,
    minStakeBase: BigInt(whole!) * 1_000_000n + BigInt(frac.padEnd(6, "0")),
    maxPayoutsPerBatch: e.SETTLEMENT_MAX_PAYOUTS,
    settlementWaitMs: e.SETTLEMENT_WAIT_MS,
  };
}

