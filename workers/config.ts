/**
 * The worker's configuration: the bindings wrangler.toml declares (generated types) plus the
 * secrets, parsed once into Config by readConfig. The chain settings parse alone too, for the Node
 * job runner (readChainConfig). Numbers, bigints and addresses are converted here, once, and a bad
 * value fails loudly, naming the variable.
 */
import { z } from "zod";
import { parseDecimal, USDC_DECIMALS } from "./core/money/units";
import { Address } from "./core/wire";
import { parseEndpointAllowlist } from "./core/protocol/endpoint-policy";

/** The chain settings, alone: the Node job runner reads just these. */
export const ChainSchema = z.object({
  CHAIN_ID: z.coerce.number().int().positive().default(31337),
  CHAIN_RPC_URL: z.url({ protocol: /^https?$/ }).optional(),
  SETTLEMENT_ADDRESS: Address.optional(),
  USDC_ADDRESS: Address.optional(),
  CHAIN_CONFIRMATIONS: z.coerce.number().int().min(1).max(1000).default(3),
  CHAIN_START_BLOCK: z.coerce.bigint().min(0n).default(0n),
  MIN_STAKE_USDC: z
    .string()
    .regex(/^\d{1,12}(\.\d{1,6})?$/, "a decimal number of USDC")
    .default("0"),
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
  return {
    rpcUrl: e.CHAIN_RPC_URL,
    chainId: e.CHAIN_ID,
    settlement: e.SETTLEMENT_ADDRESS,
    usdc: e.USDC_ADDRESS,
    confirmations: e.CHAIN_CONFIRMATIONS,
    startBlock: e.CHAIN_START_BLOCK,
    minStakeBase: parseDecimal(e.MIN_STAKE_USDC, USDC_DECIMALS) ?? 0n, // the schema admits only exact decimals
    maxPayoutsPerBatch: e.SETTLEMENT_MAX_PAYOUTS,
    settlementWaitMs: e.SETTLEMENT_WAIT_MS,
  };
}

/** Bindings from wrangler.toml (generated) plus the secrets, which are only named there. */
export interface Env extends CloudflareBindings {
  DATABASE_URL: string;
  ADMIN_TOKEN: string;
  /** Ed25519 private key (PKCS8, base64url) that signs every request forwarded to a provider. */
  GATEWAY_REQUEST_KEY: string;
  /** Local only: host:port/path of the WebSocket proxy in front of Postgres. */
  WSPROXY?: string;
  /** The L2's JSON-RPC URL; unset: no chain (no deposits, stakes or settlement). */
  CHAIN_RPC_URL?: string;
  SETTLEMENT_ADDRESS?: string;
  USDC_ADDRESS?: string;
  /**
   * The settlement operator's private key. Read only by the settlement job's wiring (`operatorFor` in
   * workers/wire.ts, and scripts/settle.ts) and never parsed into Config, so the request path cannot reach it.
   */
  OPERATOR_PRIVATE_KEY?: string;
  /** A block explorer's transaction URL prefix, e.g. "https://basescan.org/tx/"; unset: no explorer links. */
  EXPLORER_TX_URL?: string;
}

const ms = z.coerce.number().int().positive();
const ConfigSchema = ChainSchema.extend({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters"),
  WSPROXY: z.string().min(1).optional(),
  EDGE_FALLBACK: z.string().min(1).default("local"),
  TTFT_DEADLINE_MS: ms.default(10_000),
  IDLE_DEADLINE_MS: ms.default(30_000),
  TOTAL_DEADLINE_MS: ms.default(300_000),
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  KEY_CACHE_MS: ms.default(5_000),
  ROUTE_CACHE_MS: ms.default(2_000),
  KEEPALIVE_MS: ms.default(5_000),
  EARLY_HEADERS_MS: z.coerce.number().int().min(0).default(2_000),
  HEARTBEAT_FRESH_MS: ms.default(30_000),
  RECEIPT_RECONCILE_AFTER_MS: ms.default(60_000),
  GATEWAY_REQUEST_KEY: z.string().min(40, "must be a base64url PKCS8 Ed25519 key"),
  GATEWAY_ADDRESS: Address,
  PROVIDER_URL_ALLOWLIST: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const list = parseEndpointAllowlist(text);
      if (list.ok) return list.entries;
      ctx.addIssue({ code: "custom", message: list.reason });
      return z.NEVER;
    }),
  PROTOCOL_FEE_BPS: z.coerce.number().int().min(0).max(10_000).default(500),
  ADMISSION: z.enum(["enforce", "direct", "off"]).default("enforce"),
  EXPLORER_TX_URL: z.url({ protocol: /^https?$/ }).optional(),
});

export interface Config {
  databaseUrl: string;
  adminToken: string;
  wsProxy: string | undefined;
  edgeFallback: string;
  ttftDeadlineMs: number;
  idleDeadlineMs: number;
  /** The longest a request may take end to end (failover, waits and the whole stream): 504 / an error event after. */
  totalDeadlineMs: number;
  maxAttempts: number;
  bodyLimitBytes: number;
  keyCacheMs: number;
  routeCacheMs: number;
  keepaliveMs: number;
  /** A stream whose first byte has not come after this gets its headers and keep-alives (0: never). */
  earlyHeadersMs: number;
  /** A provider whose last heartbeat is older than this is not routed to. */
  heartbeatFreshMs: number;
  /** A request with a reservation and no usage event is billed from its provider's receipt once both are this old. */
  receiptReconcileAfterMs: number;
  gatewayRequestKey: string;
  gatewayAddress: `0x${string}`;
  chainId: number;
  /**
   * Development and tests only: the exact normalised host:port pairs a provider URL may name although
   * private or plain http (PROVIDER_URL_ALLOWLIST; empty in production). Everything else follows the public policy.
   */
  providerUrlAllowlist: readonly string[];
  /** The protocol's fee, in basis points of each request's cost. */
  protocolFeeBps: number;
  /** "enforce": with leases; "direct": one account-object call per request; "off": no reservations, budgets or rate limits (benchmarks only). */
  admission: "enforce" | "direct" | "off";
  /** The L2, or null when none is configured (then stakes are not required and nothing settles). */
  chain: ChainConfig | null;
  /** Prefix of a transaction's page on a block explorer (the hash is appended); null: none. */
  explorerTxUrl: string | null;
}

let memo: { env: Env; cfg: Config } | undefined;

/** Parses the environment once per isolate and fails loudly, naming the variable. */
export function readConfig(env: Env): Config {
  if (memo?.env === env) return memo.cfg;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid configuration: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const e = parsed.data;
  const cfg: Config = {
    databaseUrl: e.DATABASE_URL,
    adminToken: e.ADMIN_TOKEN,
    wsProxy: e.WSPROXY,
    edgeFallback: e.EDGE_FALLBACK,
    ttftDeadlineMs: e.TTFT_DEADLINE_MS,
    idleDeadlineMs: e.IDLE_DEADLINE_MS,
    totalDeadlineMs: e.TOTAL_DEADLINE_MS,
    maxAttempts: e.MAX_ATTEMPTS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    keyCacheMs: e.KEY_CACHE_MS,
    routeCacheMs: e.ROUTE_CACHE_MS,
    keepaliveMs: e.KEEPALIVE_MS,
    earlyHeadersMs: e.EARLY_HEADERS_MS,
    heartbeatFreshMs: e.HEARTBEAT_FRESH_MS,
    receiptReconcileAfterMs: e.RECEIPT_RECONCILE_AFTER_MS,
    gatewayRequestKey: e.GATEWAY_REQUEST_KEY,
    gatewayAddress: e.GATEWAY_ADDRESS,
    chainId: e.CHAIN_ID,
    providerUrlAllowlist: e.PROVIDER_URL_ALLOWLIST,
    protocolFeeBps: e.PROTOCOL_FEE_BPS,
    admission: e.ADMISSION,
    chain: chainConfig(e),
    explorerTxUrl: e.EXPLORER_TX_URL ?? null,
  };
  memo = { env, cfg };
  return cfg;
}
