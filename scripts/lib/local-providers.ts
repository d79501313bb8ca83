/**
 * The local network's providers: simulated engines at three prices and speeds, each either behind a
 * provider agent with a wallet of its own (the default) or bare and registered through the admin API
 * (the gateway bench's baseline, with no agent hop).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import type { Admin } from "./admin-client";
import { spawnTs } from "./children";
import type { LocalChain } from "./local-chain";

export const CHAT_MODEL = "meshgate/sim-llama-3.1-8b";
export const EMBEDDING_MODEL = "meshgate/sim-embed-16";

export interface EngineSpec {
  id: string;
  inputPrice: string;
  outputPrice: string;
  ttftMs: number;
  tokensPerSecond: number;
  embeddings: boolean;
}

/** Cheapest is slowest: routing has a real trade-off to make. */
export const DEFAULT_ENGINES: EngineSpec[] = [
  { id: "sim-a", inputPrice: "0.10", outputPrice: "0.20", ttftMs: 60, tokensPerSecond: 80, embeddings: false },
  { id: "sim-b", inputPrice: "0.15", outputPrice: "0.30", ttftMs: 30, tokensPerSecond: 200, embeddings: true },
  { id: "sim-c", inputPrice: "0.40", outputPrice: "0.80", ttftMs: 10, tokensPerSecond: 500, embeddings: false },
];

/** A running provider; `restart` is how to start it again (the command's entry and arguments). */
export interface StartedProvider {
  spec: EngineSpec;
  url: string;
  pid: number;
  address: string | null;
  controlUrl: string;
  metricsUrl: string;
  restart: { entry: string; args: string[] };
}

/** Each started process's stop is pushed here as soon as it is up, so a failed start still stops the rest. */
type Stops = (() => Promise<void>)[];
type Log = (line: string) => void;

interface EngineReady {
  url: string;
  controlUrl: string;
  metricsUrl: string;
  pid: number;
}
interface AgentReady {
  url: string;
  address: string;
  pid: number;
  engine: { url: string; controlUrl?: string; metricsUrl: string };
}

/** A bare simulated engine (no agent, no wallet), on `port` (chosen first: the gateway lists it in PROVIDER_URL_ALLOWLIST). */
export async function startBareEngine(spec: EngineSpec, port: number, stops: Stops, log: Log): Promise<StartedProvider> {
  const entry = "provider-runtime/sim/main.ts";
  const args = [
    "--port",
    String(port),
    "--model",
    CHAT_MODEL,
    "--ttft-ms",
    String(spec.ttftMs),
    "--tokens-per-second",
    String(spec.tokensPerSecond),
    "--name",
    spec.id,
  ];
  if (spec.embeddings) args.push("--embedding-model", EMBEDDING_MODEL);
  const child = await spawnTs<EngineReady>(entry, args, { name: spec.id, log });
  stops.push(child.stop);
  return {
    spec,
    url: child.ready.url,
    pid: child.pid,
    address: null,
    controlUrl: child.ready.controlUrl,
    metricsUrl: child.ready.metricsUrl,
    restart: { entry, args },
  };
}

/** What an agent would register for itself, registered for a bare engine by the admin API. */
export async function registerBareEngine(admin: Admin, e: StartedProvider): Promise<void> {
  await admin("POST", "/admin/v1/providers", {
    id: e.spec.id,
    url: e.url,
    region: "local",
    max_waiting_requests: 64,
    models: [
      {
        model: CHAT_MODEL,
        endpoints: ["chat", "completions"],
        input_price: e.spec.inputPrice,
        output_price: e.spec.outputPrice,
        context_length: 8192,
      },
      ...(e.spec.embeddings
        ? [{ model: EMBEDDING_MODEL, endpoints: ["embeddings"], input_price: e.spec.inputPrice, output_price: "0", context_length: 8192 }]
        : []),
    ],
  });
}

/** A provider's wallet key file (made on first use, kept across runs), and its address. */
export function providerWallet(stateDir: string, id: string): { file: string; address: `0x${string}` } {
  const file = path.join(stateDir, "wallets", `${id}.key`);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, generatePrivateKey(), { mode: 0o600 });
  }
  return { file, address: privateKeyToAddress(readFileSync(file, "utf8").trim() as `0x${string}`) };
}

/** A provider agent in front of an in-process simulated engine, with a wallet of its own (kept across runs), on `port`. */
export async function startAgent(
  spec: EngineSpec,
  port: number,
  gatewayURL: string,
  stateDir: string,
  stops: Stops,
  log: Log,
  chain: LocalChain | null,
): Promise<StartedProvider> {
  const walletFile = providerWallet(stateDir, spec.id).file;
  const entry = "provider-runtime/src/main.ts";
  const args = [
    "--gateway",
    gatewayURL,
    "--engine",
    "sim",
    "--sim-ttft-ms",
    String(spec.ttftMs),
    "--sim-tokens-per-second",
    String(spec.tokensPerSecond),
    ...(spec.embeddings ? ["--sim-embedding-model", EMBEDDING_MODEL] : []),
    "--model",
    CHAT_MODEL,
    "--price-in",
    spec.inputPrice,
    "--price-out",
    spec.outputPrice,
    "--port",
    String(port),
    "--wallet-key-file",
    walletFile,
    "--provider-id",
    spec.id,
    "--region",
    "local",
    "--max-concurrency",
    "64",
    "--outbox-dir",
    path.join(stateDir, "outbox", spec.id),
    "--drain-ms",
    "2000",
    "--heartbeat-ms",
    "2000",
    ...(chain ? ["--rpc-url", chain.info.rpcUrl] : []),
  ];
  const child = await spawnTs<AgentReady>(entry, args, { name: spec.id, log, timeoutMs: 60_000 });
  stops.push(child.stop);
  return {
    spec,
    url: child.ready.url,
    pid: child.pid,
    address: child.ready.address,
    controlUrl: child.ready.engine.controlUrl ?? "",
    metricsUrl: child.ready.engine.metricsUrl,
    restart: { entry, args },
  };
}
