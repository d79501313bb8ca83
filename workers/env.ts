import { z } from "zod";
import { ChainSchema, chainConfig, type ChainConfig } from "./chain-config";

export type { ChainConfig } from "./chain-config";

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
   * The settlement operator's private key. Read only by the settlement job (workers/jobs/settlement.ts),
   * never parsed into Config, so the request path cannot reach it.
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
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(10 * 1024 * 1024),
  KEY_CACHE_MS: ms.default(5_000),
  ROUTE_CACHE_MS: ms.default(2_000),
  KEEPALIVE_MS: ms.default(5_000),
  HEARTBEAT_FRESH_MS: ms.default(30_000),
  GATEWAY_REQUEST_KEY: z.string().min(40, "must be a base64url PKCS8 Ed25519 key"),
  GATEWAY_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address"),
  ALLOW_PRIVATE_PROVIDER_URLS: z.enum(["true", "false"]).default("false"),
  PROTOCOL_FEE_BPS: z.coerce.number().int().min(0).max(10_000).default(500),
  ADMISSION: z.enum(["enforce", "off"]).default("enforce"),
  EXPLORER_TX_URL: z.url({ protocol: /^https?$/ }).optional(),
});

export interface Config {
  databaseUrl: string;
  adminToken: string;
  wsProxy: string | undefined;
  edgeFallback: string;
  ttftDeadlineMs: number;
  idleDeadlineMs: number;
  maxAttempts: number;
  bodyLimitBytes: number;
  keyCacheMs: number;
  routeCacheMs: number;
  keepaliveMs: number;
  /** A provider whose last heartbeat is older than this is not routed to. */
  heartbeatFreshMs: number;
  gatewayRequestKey: string;
  gatewayAddress: `0x${string}`;
  chainId: number;
  /** Development only: providers may register loopback/private http:// URLs. */
  allowPrivateProviderUrls: boolean;
  /** The protocol's fee, in basis points of each request's cost. */
  protocolFeeBps: number;
  /** "off": no reservations, budgets or rate limits (benchmarks, trusted private deployments only). */
  admission: "enforce" | "off";
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
    maxAttempts: e.MAX_ATTEMPTS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    keyCacheMs: e.KEY_CACHE_MS,
    routeCacheMs: e.ROUTE_CACHE_MS,
    keepaliveMs: e.KEEPALIVE_MS,
    heartbeatFreshMs: e.HEARTBEAT_FRESH_MS,
    gatewayRequestKey: e.GATEWAY_REQUEST_KEY,
    gatewayAddress: e.GATEWAY_ADDRESS as `0x${string}`,
    chainId: e.CHAIN_ID,
    allowPrivateProviderUrls: e.ALLOW_PRIVATE_PROVIDER_URLS === "true",
    protocolFeeBps: e.PROTOCOL_FEE_BPS,
    admission: e.ADMISSION,
    chain: chainConfig(e),
    explorerTxUrl: e.EXPLORER_TX_URL ?? null,
  };
  memo = { env, cfg };
  return cfg;
}
