/**
 * The agent's configuration: command-line flags, each with a matching MESHGATE_* environment
 * variable (a flag wins over its variable; an empty variable counts as unset). Parsed once at
 * start; anything wrong is one ConfigError line, never a stack trace.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { z } from "zod";
import { parseUsdcPerMTok } from "../../workers/core/money/pricing";
import { ConfigError } from "./errors";

export { ConfigError } from "./errors";

type FlagSpec = { env: string; help: string; boolean?: true };

/** Flag → environment variable and a one-line description (the README documents the same table). */
export const FLAGS = {
  gateway: { env: "MESHGATE_GATEWAY", help: "gateway base URL (required)" },
  "engine-url": { env: "MESHGATE_ENGINE_URL", help: "vLLM OpenAI server, default http://127.0.0.1:8000" },
  engine: { env: "MESHGATE_ENGINE", help: "'vllm' (default: use --engine-url) or 'sim' (simulated engine in-process)" },
  "sim-ttft-ms": { env: "MESHGATE_SIM_TTFT_MS", help: "sim: time to first token" },
  "sim-tokens-per-second": { env: "MESHGATE_SIM_TOKENS_PER_SECOND", help: "sim: generation speed (0 = no delay)" },
  "sim-embedding-model": { env: "MESHGATE_SIM_EMBEDDING_MODEL", help: "sim: also serve this embedding model" },
  model: { env: "MESHGATE_MODEL", help: "the model id the engine serves (required)" },
  endpoints: { env: "MESHGATE_ENDPOINTS", help: "comma list of chat,completions,embeddings; default chat,completions" },
  "context-length": { env: "MESHGATE_CONTEXT_LENGTH", help: "override the engine's max_model_len" },
  "price-in": { env: "MESHGATE_PRICE_IN", help: "USDC per million input tokens, decimal (required)" },
  "price-out": { env: "MESHGATE_PRICE_OUT", help: "USDC per million output tokens, decimal (required)" },
  "public-url": { env: "MESHGATE_PUBLIC_URL", help: "URL the gateway reaches this agent at; default the local URL" },
  port: { env: "MESHGATE_PORT", help: "listen port, default 8080 (0 = any free port)" },
  host: { env: "MESHGATE_HOST", help: "listen address, default 127.0.0.1 (the image sets 0.0.0.0)" },
  "wallet-key": { env: "MESHGATE_WALLET_KEY", help: "provider wallet private key, 0x + 64 hex" },
  "wallet-key-file": { env: "MESHGATE_WALLET_KEY_FILE", help: "file holding the wallet key" },
  "provider-id": { env: "MESHGATE_PROVIDER_ID", help: "registry id; default p-<first 8 hex of the address>" },
  region: { env: "MESHGATE_REGION", help: "free-form region label, default 'local'" },
  "max-concurrency": { env: "MESHGATE_MAX_CONCURRENCY", help: "advertised concurrent requests, default 32" },
  "chain-id": { env: "MESHGATE_CHAIN_ID", help: "EIP-712 chain id, default 31337" },
  "rpc-url": { env: "MESHGATE_RPC_URL", help: "L2 JSON-RPC URL for the wallet: stakes the gateway's minimum at start" },
  "outbox-dir": { env: "MESHGATE_OUTBOX_DIR", help: "receipt outbox directory, default .meshgate/outbox/<provider-id>" },
  "heartbeat-ms": { env: "MESHGATE_HEARTBEAT_MS", help: "heartbeat period, default 5000" },
  "outbox-ms": { env: "MESHGATE_OUTBOX_MS", help: "receipt batch period, default 2000" },
  "drain-ms": { env: "MESHGATE_DRAIN_MS", help: "shutdown wait for in-flight requests, default 30000" },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;

const ENDPOINTS = ["chat", "completions", "embeddings"] as const;
export const HttpUrl = z
  .url()
  .refine((s) => /^https?:\/\//i.test(s), "must be an http(s) URL")
  .transform((s) => s.replace(/\/+$/, ""));
const Int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const Price = z.string().refine((s) => {
  try {
    return parseUsdcPerMTok(s) < 2n ** 64n; // receipts carry it as a uint64 of micro-USDC
  } catch {
    return false;
  }
}, "expected a decimal number of USDC per million tokens, at most 6 decimals (e.g. 0.15)");

const RawConfig = z.object({
  gateway: HttpUrl,
  "engine-url": HttpUrl.default("http://127.0.0.1:8000"),
  engine: z.enum(["vllm", "sim"]).default("vllm"),
  "sim-ttft-ms": Int(0, 600_000).default(20),
  "sim-tokens-per-second": z.coerce.number().min(0).max(1_000_000).default(200),
  "sim-embedding-model": z.string().min(1).optional(),
  model: z.string().min(1),
  endpoints: z
    .string()
    .transform((s) => [
      ...new Set(
        s
          .split(",")
          .map((e) => e.trim())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(z.enum(ENDPOINTS)).min(1))
    .default(["chat", "completions"]),
  "context-length": Int(1, 100_000_000).optional(),
  "price-in": Price,
  "price-out": Price,
  "public-url": HttpUrl.optional(),
  port: Int(0, 65_535).default(8080),
  host: z.string().min(1).default("127.0.0.1"),
  "wallet-key": z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, "expected 0x followed by 64 hex digits")
    .optional(),
  "provider-id": z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "2-63 characters of a-z, 0-9 and '-', not starting with '-'")
    .optional(),
  region: z.string().min(1).max(64).default("local"),
  "max-concurrency": Int(1, 1_000_000).default(32),
  "chain-id": Int(1, Number.MAX_SAFE_INTEGER).default(31337),
  "rpc-url": HttpUrl.optional(),
  "outbox-dir": z.string().min(1).optional(),
  "heartbeat-ms": Int(50, 600_000).default(5000),
  "outbox-ms": Int(50, 600_000).default(2000),
  "drain-ms": Int(0, 3_600_000).default(30_000),
});

export interface AgentConfig {
  gatewayUrl: string;
  engine: { kind: "vllm"; url: string } | { kind: "sim"; ttftMs: number; tokensPerSecond: number; embeddingModel?: string };
  model: string;
  endpoints: (typeof ENDPOINTS)[number][];
  contextLength?: number;
  /** As configured, for the registration (decimal USDC per million tokens). */
  priceIn: string;
  priceOut: string;
  /** The same in micro-USDC per million tokens, for receipts. */
  inputPriceMicro: bigint;
  outputPriceMicro: bigint;
  publicUrl?: string;
  port: number;
  host: string;
  account: PrivateKeyAccount;
  /** The wallet key itself, for the receipt signer's fast path; never logged. */
  privateKey: `0x${string}`;
  providerId: string;
  region: string;
  maxConcurrency: number;
  chainId: number;
  /** The L2 RPC the wallet stakes through; without it the agent never touches the chain. */
  rpcUrl?: string;
  outboxDir: string;
  heartbeatMs: number;
  outboxMs: number;
  drainMs: number;
}

/** Reads flags, then the environment; throws ConfigError with one readable line. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let values: Partial<Record<FlagName, string>>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: "string" as const }]));
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as {
      values: Partial<Record<FlagName, string>>;
    });
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const raw: Partial<Record<FlagName, string>> = {};
  for (const [flag, spec] of Object.entries(FLAGS) as [FlagName, FlagSpec][]) {
    const fromEnv = env[spec.env];
    const value = values[flag] ?? (fromEnv === undefined || fromEnv === "" ? undefined : fromEnv);
    if (value !== undefined) raw[flag] = value;
  }
  const parsed = RawConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = String(issue.path[0] ?? "");
    const spec = FLAGS[flag as FlagName] as FlagSpec | undefined;
    const where = spec ? `--${flag} (${spec.env})` : "configuration";
    const missing = issue.code === "invalid_type" && raw[flag as FlagName] === undefined;
    throw new ConfigError(missing ? `${where} is required: ${spec?.help ?? ""}` : `${where}: ${issue.message}`);
  }
  const c = parsed.data;
  const { account, privateKey } = readAccount(c["wallet-key"], raw["wallet-key-file"]);
  const providerId = c["provider-id"] ?? `p-${account.address.slice(2, 10).toLowerCase()}`;
  return {
    gatewayUrl: c.gateway,
    engine:
      c.engine === "sim"
        ? {
            kind: "sim",
            ttftMs: c["sim-ttft-ms"],
            tokensPerSecond: c["sim-tokens-per-second"],
            ...(c["sim-embedding-model"] ? { embeddingModel: c["sim-embedding-model"] } : {}),
          }
        : { kind: "vllm", url: c["engine-url"] },
    model: c.model,
    endpoints: c.endpoints,
    ...(c["context-length"] !== undefined ? { contextLength: c["context-length"] } : {}),
    priceIn: c["price-in"],
    priceOut: c["price-out"],
    inputPriceMicro: parseUsdcPerMTok(c["price-in"]),
    outputPriceMicro: parseUsdcPerMTok(c["price-out"]),
    ...(c["public-url"] !== undefined ? { publicUrl: c["public-url"] } : {}),
    port: c.port,
    host: c.host,
    account,
    privateKey,
    providerId,
    region: c.region,
    maxConcurrency: c["max-concurrency"],
    chainId: c["chain-id"],
    ...(c["rpc-url"] !== undefined ? { rpcUrl: c["rpc-url"] } : {}),
    outboxDir: resolve(c["outbox-dir"] ?? `.meshgate/outbox/${providerId}`),
    heartbeatMs: c["heartbeat-ms"],
    outboxMs: c["outbox-ms"],
    drainMs: c["drain-ms"],
  };
}

/** Exactly one of the key or its file; the key itself never appears in a message. Also used by `verify-receipt`. */
export function readAccount(key: string | undefined, file: string | undefined): { account: PrivateKeyAccount; privateKey: `0x${string}` } {
  if (key !== undefined && file !== undefined)
    throw new ConfigError("give --wallet-key (MESHGATE_WALLET_KEY) or --wallet-key-file (MESHGATE_WALLET_KEY_FILE), not both");
  let text = key;
  if (file !== undefined) {
    try {
      text = readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new ConfigError(
        `--wallet-key-file (MESHGATE_WALLET_KEY_FILE): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    if (!/^0x[0-9a-fA-F]{64}$/.test(text))
      throw new ConfigError(`--wallet-key-file (MESHGATE_WALLET_KEY_FILE): ${file} does not hold 0x followed by 64 hex digits`);
  }
  if (text === undefined)
    throw new ConfigError(
      "--wallet-key (MESHGATE_WALLET_KEY) or --wallet-key-file (MESHGATE_WALLET_KEY_FILE) is required: the provider wallet's private key",
    );
  try {
    const privateKey = text as `0x${string}`;
    return { account: privateKeyToAccount(privateKey), privateKey };
  } catch {
    throw new ConfigError("the wallet key is not a valid secp256k1 private key");
  }
}
