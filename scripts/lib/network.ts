/**
 * The whole local network on one machine: embedded Postgres + the WebSocket proxy, a local L2
 * (anvil) with the contracts, three provider agents (each staked, in front of a simulated engine
 * at its own price and speed), the worker in workerd, and an account funded by a real deposit.
 * `npm start` and the end-to-end tests both use this, so tests run what developers run.
 */
import { mkdirSync, writeFileSync, readFileSync, existsSync, chmodSync, rmSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { runMigrations } from "../../db/migrate";
import { startPostgres } from "./postgres";
import { startWsProxy } from "./wsproxy";
import { buildWorker } from "./build-worker";
import { spawnTs, type ReadyChild } from "./children";
import { freePort } from "./ports";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { generateGatewayKeyPair } from "../../workers/core/protocol/gateway-auth";
import { accountToBytes32 } from "../../workers/core/settlement/units";
import { CUSTOMER_KEY, depositFor, fundWallet, startLocalChain, type ChainInfo, type LocalChain } from "./local-chain";
import { seedTraffic } from "./seed-traffic";

/** The stake the local gateway requires of a provider (USDC); agents stake it on start. */
export const LOCAL_MIN_STAKE_USDC = "100";
/** What the demo customer deposits for the developer account (USDC base units). */
const DEV_DEPOSIT_BASE = 1_000_000_000n;

export const CHAT_MODEL = "meshgate/sim-llama-3.1-8b";
export const EMBEDDING_MODEL = "meshgate/sim-embed-16";

export interface EngineSpec { id: string; inputPrice: string; outputPrice: string; ttftMs: number; tokensPerSecond: number; embeddings: boolean }

/** Cheapest is slowest: routing has a real trade-off to make. */
export const DEFAULT_ENGINES: EngineSpec[] = [
  { id: "sim-a", inputPrice: "0.10", outputPrice: "0.20", ttftMs: 60, tokensPerSecond: 80, embeddings: false },
  { id: "sim-b", inputPrice: "0.15", outputPrice: "0.30", ttftMs: 30, tokensPerSecond: 200, embeddings: true },
  { id: "sim-c", inputPrice: "0.40", outputPrice: "0.80", ttftMs: 10, tokensPerSecond: 500, embeddings: false },
];

export interface NetworkOptions {
  stateDir: string;
  persistent: boolean;
  gatewayPort: number;
  engines?: EngineSpec[];
  /**
   * true (default): each engine runs inside a provider agent (provider-runtime), which
   * registers itself with a wallet of its own. false: bare simulated engines registered by the
   * admin API (no agent hop; the gateway bench's baseline).
   */
  agents?: boolean;
  /** Worker vars to override (deadlines in tests). */
  vars?: Record<string, string>;
  /** false: no chain (no stake required, no deposits or settlement; the gateway bench). Default true. */
  chain?: boolean;
  cronEveryMs?: number;
  /** How often a settlement period closes (the hourly cron, fired locally); 0 or absent: never. */
  settleEveryMs?: number;
  /**
   * On a fresh database only: this many demo requests through the gateway, then one settlement
   * run, so the dashboard has something to show (`npm start`; the tests make their own traffic).
   */
  seedTraffic?: number;
  log?: (line: string) => void;
}

export interface DevProvider {
  id: string; url: string; model: string; inputPrice: string; outputPrice: string;
  address: string | null; pid: number; controlUrl: string; metricsUrl: string; embeddingModel: string | null;
  /** How to start this provider again (tests that kill it): the command's arguments. */
  restart: { entry: string; args: string[] };
}

export interface DevInfo {
  baseURL: string; gatewayURL: string; apiKey: string; accountId: string; adminToken: string; financeKey: string;
  /** A finance key of scope "all" (the operator's): every account, and the providers' earnings. */
  operatorFinanceKey: string;
  dashboardURL: string; databaseUrl: string; providers: DevProvider[]; gatewayPid: number; model: string; embeddingModel: string;
  /** The gateway's identity: its receipt address, and the file holding its request-signing key (local only). */
  gatewayAddress: string; gatewayKeyFile: string;
  /** The local L2 and its contracts; null when started without a chain. */
  chain: ChainInfo | null;
}

export interface Network { info: DevInfo; stop(): Promise<void> }

interface EngineReady { url: string; controlUrl: string; metricsUrl: string; pid: number }
interface AgentReady { url: string; address: string; pid: number; engine: { url: string; controlUrl?: string; metricsUrl: string } }
interface Started { spec: EngineSpec; url: string; pid: number; address: string | null; controlUrl: string; metricsUrl: string; restart: { entry: string; args: string[] } }

export async function startNetwork(o: NetworkOptions): Promise<Network> {
  const log = o.log ?? (() => undefined);
  mkdirSync(o.stateDir, { recursive: true });
  chmodSync(o.stateDir, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => { for (const s of stops.splice(0).reverse()) await s().catch(() => undefined); };
  try {
    const specs = o.engines ?? DEFAULT_ENGINES;
    const withAgents = o.agents ?? true;
    // The chain first: a persistent database only makes sense with the chain it was booked from.
    let chain: LocalChain | null = null;
    if (o.chain ?? true) {
      chain = await startLocalChain({ stateDir: o.stateDir, persistent: o.persistent });
      stops.push(chain.stop);
      if (chain.fresh && o.persistent && existsSync(path.join(o.stateDir, "pg"))) {
        log("the local chain is new: resetting the local database, whose deposits and payouts were on the old one");
        rmSync(path.join(o.stateDir, "pg"), { recursive: true, force: true });
        rmSync(path.join(o.stateDir, "credentials.json"), { force: true });
      }
    }
    const startEngine = async (spec: EngineSpec): Promise<Started> => {
      const port = await freePort();
      const entry = "provider-runtime/sim/main.ts";
      const args = ["--port", String(port), "--model", CHAT_MODEL, "--ttft-ms", String(spec.ttftMs), "--tokens-per-second", String(spec.tokensPerSecond), "--name", spec.id];
      if (spec.embeddings) args.push("--embedding-model", EMBEDDING_MODEL);
      const child = await spawnTs<EngineReady>(entry, args, { name: spec.id, log });
      stops.push(child.stop);
      return { spec, url: child.ready.url, pid: child.pid, address: null, controlUrl: child.ready.controlUrl, metricsUrl: child.ready.metricsUrl, restart: { entry, args } };
    };
    // Everything that does not depend on anything else starts at once.
    const [pg, proxy, bundle, bareEngines] = await Promise.all([
      startPostgres({ dataDir: path.join(o.stateDir, "pg"), persistent: o.persistent, port: o.persistent ? 54329 : 0 })
        .then((pg) => { stops.push(pg.stop); return pg; }),
      startWsProxy({}).then((proxy) => { stops.push(proxy.stop); return proxy; }),
      buildWorker(path.join(o.stateDir, "build")),
      withAgents ? Promise.resolve([]) : Promise.all(specs.map(startEngine)),
    ]);
    await runMigrations(pg.url);

    const adminToken = loadOrCreateSecret(path.join(o.stateDir, "admin-token"), () => randomBytes(24).toString("hex"), o.persistent);
    const gatewayKey = await loadOrCreateGatewayKey(path.join(o.stateDir, "gateway-key.json"), o.persistent);
    const bindingsFile = path.join(o.stateDir, "bindings.json");
    writeFileSync(bindingsFile, JSON.stringify({
      ...readWranglerVars(), ALLOW_PRIVATE_PROVIDER_URLS: "true", ...(chain ? chainBindings(chain) : {}), ...o.vars, DATABASE_URL: pg.url, WSPROXY: proxy.wsProxy, ADMIN_TOKEN: adminToken,
      GATEWAY_REQUEST_KEY: gatewayKey.requestKey, GATEWAY_ADDRESS: gatewayKey.address,
    }), { mode: 0o600 });
    const gateway: ReadyChild<{ url: string }> = await spawnTs("scripts/gateway.ts", [
      "--script", bundle, "--port", String(o.gatewayPort), "--bindings", bindingsFile, "--cron-every-ms", String(o.cronEveryMs ?? 10_000), "--settle-every-ms", String(o.settleEveryMs ?? 0),
    ], { name: "gateway", log, timeoutMs: 60_000 });
    stops.push(gateway.stop);
    const gatewayURL = gateway.ready.url;

    const admin = adminClient(gatewayURL, adminToken);
    let engines: Started[] = bareEngines;
    if (withAgents) {
      // The faucet gives each wallet gas and USDC (one owner, so one mint at a time); each agent stakes on start.
      if (chain) for (const spec of specs) await fundWallet(chain.clients, chain.info, providerWallet(o.stateDir, spec.id).address, 1_000_000_000n);
      engines = await Promise.all(specs.map((spec) => startAgent(spec, gatewayURL, o.stateDir, stops, log, chain)));
    } else {
      for (const e of engines) await admin("POST", "/admin/v1/providers", {
        id: e.spec.id, url: e.url, region: "local", max_waiting_requests: 64,
        models: [
          { model: CHAT_MODEL, endpoints: ["chat", "completions"], input_price: e.spec.inputPrice, output_price: e.spec.outputPrice, context_length: 8192 },
          ...(e.spec.embeddings ? [{ model: EMBEDDING_MODEL, endpoints: ["embeddings"], input_price: e.spec.inputPrice, output_price: "0", context_length: 8192 }] : []),
        ],
      });
    }
    // Stakes the agents just made become routable once the chain job has read them.
    if (chain) await admin("POST", "/admin/v1/jobs/deposits/run");
    await admin("POST", "/admin/v1/jobs/probe/run");
    const { created, ...creds } = await loadOrCreateCredentials(path.join(o.stateDir, "credentials.json"), admin, gatewayURL, o.persistent, chain);
    if (o.seedTraffic && created) {
      log(`seeding ${o.seedTraffic} demo requests and a settlement run`);
      // A second key, so the dashboard has more than one to compare.
      const batchKey = await admin("POST", "/admin/v1/keys", { account_id: creds.accountId, name: "dev batch jobs", role: "inference" });
      const seeded = await seedTraffic({
        baseURL: `${gatewayURL}/v1`, gatewayURL, adminToken, apiKeys: [creds.apiKey, String(batchKey.secret)], financeKey: creds.financeKey,
        model: CHAT_MODEL, embeddingModel: EMBEDDING_MODEL, providerIds: specs.map((s) => s.id), requests: o.seedTraffic, settle: chain !== null, log,
      });
      log(`seeded: ${seeded.ok} requests served, ${seeded.failed} failed; settlement ${seeded.settlement}`);
    }

    const info: DevInfo = {
      baseURL: `${gatewayURL}/v1`, gatewayURL, ...creds, adminToken,
      dashboardURL: `${gatewayURL}/dashboard`, databaseUrl: pg.url, gatewayPid: gateway.pid,
      model: CHAT_MODEL, embeddingModel: EMBEDDING_MODEL,
      gatewayAddress: gatewayKey.address, gatewayKeyFile: path.join(o.stateDir, "gateway-key.json"),
      chain: chain?.info ?? null,
      providers: engines.map((e) => ({
        id: e.spec.id, url: e.url, model: CHAT_MODEL, inputPrice: e.spec.inputPrice, outputPrice: e.spec.outputPrice,
        address: e.address, pid: e.pid, controlUrl: e.controlUrl, metricsUrl: e.metricsUrl,
        embeddingModel: e.spec.embeddings ? EMBEDDING_MODEL : null, restart: e.restart,
      })),
    };
    return { info, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A provider agent in front of an in-process simulated engine, with a wallet of its own (kept across runs). */
/** A provider's wallet key file (made on first use, kept across runs), and its address. */
function providerWallet(stateDir: string, id: string): { file: string; address: `0x${string}` } {
  const file = path.join(stateDir, "wallets", `${id}.key`);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, generatePrivateKey(), { mode: 0o600 });
  }
  return { file, address: privateKeyToAddress(readFileSync(file, "utf8").trim() as `0x${string}`) };
}

async function startAgent(spec: EngineSpec, gatewayURL: string, stateDir: string, stops: (() => Promise<void>)[], log: (l: string) => void, chain: LocalChain | null): Promise<Started> {
  const walletFile = providerWallet(stateDir, spec.id).file;
  const entry = "provider-runtime/src/main.ts";
  const args = [
    "--gateway", gatewayURL, "--engine", "sim", "--sim-ttft-ms", String(spec.ttftMs), "--sim-tokens-per-second", String(spec.tokensPerSecond),
    ...(spec.embeddings ? ["--sim-embedding-model", EMBEDDING_MODEL] : []),
    "--model", CHAT_MODEL, "--price-in", spec.inputPrice, "--price-out", spec.outputPrice, "--port", String(await freePort()),
    "--wallet-key-file", walletFile, "--provider-id", spec.id, "--region", "local", "--max-concurrency", "64",
    "--outbox-dir", path.join(stateDir, "outbox", spec.id), "--drain-ms", "2000", "--heartbeat-ms", "2000",
    ...(chain ? ["--rpc-url", chain.info.rpcUrl] : []),
  ];
  const child = await spawnTs<AgentReady>(entry, args, { name: spec.id, log, timeoutMs: 60_000 });
  stops.push(child.stop);
  return {
    spec, url: child.ready.url, pid: child.pid, address: child.ready.address,
    controlUrl: child.ready.engine.controlUrl ?? "", metricsUrl: child.ready.engine.metricsUrl, restart: { entry, args },
  };
}

type Admin = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

function adminClient(base: string, token: string): Admin {
  return async (method, p, body) => {
    const res = await fetch(`${base}${p}`, {
      method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
}

async function loadOrCreateCredentials(file: string, admin: Admin, gatewayURL: string, persistent: boolean, chain: LocalChain | null) {
  // Requests reserve their worst-case cost against the balance: the developer starts with 1,000 USDC,
  // deposited on chain by the demo customer wallet and credited by the deposit job (a grant without a chain).
  const fund = async (accountId: string) => {
    if (!chain) {
      await admin("POST", `/admin/v1/accounts/${accountId}/credit`, { amount_usdc: "1000", note: "local developer credit" });
      return;
    }
    await depositFor(chain.clients, chain.info, CUSTOMER_KEY, accountToBytes32(accountId), DEV_DEPOSIT_BASE);
    await admin("POST", "/admin/v1/jobs/deposits/run");
  };
  // The operator's finance key (scope "all") belongs to an account of its own, which never spends.
  const operatorKey = async () => {
    const operator = await admin("POST", "/admin/v1/accounts", { name: "Meshgate operator" });
    return String((await admin("POST", "/admin/v1/keys", { account_id: operator.id, name: "operator finance", role: "finance", scope: "all" })).secret);
  };
  if (persistent && existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { accountId: string; apiKey: string; financeKey: string; operatorFinanceKey?: string };
    const ok = await fetch(`${gatewayURL}/v1/models`, { headers: { authorization: `Bearer ${saved.apiKey}` } });
    if (ok.status === 200) {
      // A developer account spent down gets another deposit.
      const account = await admin("GET", `/admin/v1/accounts/${saved.accountId}`);
      if (BigInt(String(account.balancePico)) < 100_000_000_000_000n) await fund(saved.accountId);
      // State from before operator keys existed gets one.
      const creds = { ...saved, operatorFinanceKey: saved.operatorFinanceKey ?? await operatorKey() };
      if (!saved.operatorFinanceKey) writeFileSync(file, JSON.stringify(creds), { mode: 0o600 });
      return { ...creds, created: false };
    }
  }
  const account = await admin("POST", "/admin/v1/accounts", { name: "Local developer" });
  const accountId = String(account.id);
  await fund(accountId);
  const key = await admin("POST", "/admin/v1/keys", { account_id: accountId, name: "dev inference", role: "inference" });
  const finance = await admin("POST", "/admin/v1/keys", { account_id: accountId, name: "dev finance", role: "finance" });
  const creds = { accountId, apiKey: String(key.secret), financeKey: String(finance.secret), operatorFinanceKey: await operatorKey() };
  if (persistent) writeFileSync(file, JSON.stringify(creds), { mode: 0o600 });
  return { ...creds, created: true };
}

/** The gateway's identity: an Ed25519 key that signs requests to providers, and the address receipts name. */
async function loadOrCreateGatewayKey(file: string, persistent: boolean): Promise<{ requestKey: string; address: string }> {
  if (persistent && existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as { requestKey: string; address: string };
  const key = { requestKey: (await generateGatewayKeyPair()).privateKey, address: privateKeyToAddress(generatePrivateKey()) };
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}

function loadOrCreateSecret(file: string, make: () => string, persistent: boolean): string {
  if (persistent && existsSync(file)) return readFileSync(file, "utf8").trim();
  const v = make();
  if (persistent) writeFileSync(file, v, { mode: 0o600 });
  return v;
}

/** The worker's view of the local chain; the operator key is the settlement job's secret. */
function chainBindings(chain: LocalChain): Record<string, string> {
  return {
    CHAIN_RPC_URL: chain.info.rpcUrl, CHAIN_ID: String(chain.info.chainId), SETTLEMENT_ADDRESS: chain.info.settlement, USDC_ADDRESS: chain.info.usdc,
    CHAIN_START_BLOCK: chain.info.deployBlock, CHAIN_CONFIRMATIONS: "1", MIN_STAKE_USDC: LOCAL_MIN_STAKE_USDC,
    OPERATOR_PRIVATE_KEY: chain.operatorKey,
  };
}

/** The [vars] of wrangler.toml, so local runs use the same settings as a deploy. */
function readWranglerVars(): Record<string, string> {
  const toml = readFileSync("wrangler.toml", "utf8");
  const section = toml.split(/^\[vars\]\s*$/m)[1]?.split(/^\[/m)[0] ?? "";
  const vars: Record<string, string> = {};
  for (const m of section.matchAll(/^([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"/gm)) vars[m[1]!] = m[2]!;
  return vars;
}
