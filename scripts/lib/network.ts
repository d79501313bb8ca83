/**
 * The whole local network on one machine: embedded Postgres + the WebSocket proxy, a local L2
 * (anvil) with the contracts, three provider agents (each staked, in front of a simulated engine
 * at its own price and speed), the worker in workerd, and an account funded by a real deposit.
 * `npm start` and the end-to-end tests both use this, so tests run what developers run.
 */
import { mkdirSync, writeFileSync, existsSync, chmodSync, rmSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { runMigrations } from "../../db/migrate";
import { startPostgres } from "./postgres";
import { startWsProxy } from "./wsproxy";
import { buildWorker } from "./build-worker";
import { spawnTs, type ReadyChild } from "./children";
import { fundWallet, startLocalChain, type ChainInfo, type LocalChain } from "./local-chain";
import { seedTraffic } from "./seed-traffic";
import { adminClient } from "./admin-client";
import { loadOrCreateCredentials, loadOrCreateGatewayKey, loadOrCreateSecret } from "./dev-credentials";
import { chainBindings, readWranglerVars } from "./worker-bindings";
import { freePort } from "./ports";
import {
  CHAT_MODEL,
  DEFAULT_ENGINES,
  EMBEDDING_MODEL,
  providerWallet,
  registerBareEngine,
  startAgent,
  startBareEngine,
  type EngineSpec,
  type StartedProvider,
} from "./local-providers";

export { CHAT_MODEL, DEFAULT_ENGINES, EMBEDDING_MODEL, type EngineSpec } from "./local-providers";
export { LOCAL_MIN_STAKE_USDC } from "./worker-bindings";

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
  /**
   * Ports on 127.0.0.1 of providers started outside this network (the agent bench's own agent) that
   * the gateway must also admit; its own providers' ports are always listed, and nothing else is.
   */
  extraProviderPorts?: number[];
  /** Extra Postgres server settings (`-c name=value`; the gateway bench loads pg_stat_statements). */
  postgresSettings?: Record<string, string>;
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
  id: string;
  url: string;
  model: string;
  inputPrice: string;
  outputPrice: string;
  address: string | null;
  pid: number;
  controlUrl: string;
  metricsUrl: string;
  embeddingModel: string | null;
  /** How to start this provider again (tests that kill it): the command's arguments. */
  restart: { entry: string; args: string[] };
}

export interface DevInfo {
  baseURL: string;
  gatewayURL: string;
  apiKey: string;
  accountId: string;
  adminToken: string;
  financeKey: string;
  /** A finance key of scope "all" (the operator's): every account, and the providers' earnings. */
  operatorFinanceKey: string;
  dashboardURL: string;
  databaseUrl: string;
  providers: DevProvider[];
  gatewayPid: number;
  model: string;
  embeddingModel: string;
  /** The gateway's identity: its receipt address, and the file holding its request-signing key (local only). */
  gatewayAddress: string;
  gatewayKeyFile: string;
  /** The local L2 and its contracts; null when started without a chain. */
  chain: ChainInfo | null;
}

export interface Network {
  info: DevInfo;
  stop(): Promise<void>;
}

export async function startNetwork(o: NetworkOptions): Promise<Network> {
  const log = o.log ?? (() => undefined);
  mkdirSync(o.stateDir, { recursive: true });
  chmodSync(o.stateDir, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    const specs = o.engines ?? DEFAULT_ENGINES;
    const withAgents = o.agents ?? true;
    // Each provider's port is chosen before the gateway starts: it admits exactly these private endpoints.
    const providerPorts = await Promise.all(specs.map(() => freePort()));
    const providerUrlAllowlist = [...providerPorts, ...(o.extraProviderPorts ?? [])].map((p) => `127.0.0.1:${p}`).join(",");
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
    // Everything that does not depend on anything else starts at once.
    const [pg, proxy, bundle, bareEngines] = await Promise.all([
      startPostgres({
        dataDir: path.join(o.stateDir, "pg"),
        persistent: o.persistent,
        port: o.persistent ? 54329 : 0,
        settings: o.postgresSettings,
      }).then((pg) => {
        stops.push(pg.stop);
        return pg;
      }),
      startWsProxy({}).then((proxy) => {
        stops.push(proxy.stop);
        return proxy;
      }),
      buildWorker(path.join(o.stateDir, "build")),
      withAgents ? Promise.resolve([]) : Promise.all(specs.map((spec, i) => startBareEngine(spec, providerPorts[i]!, stops, log))),
    ]);
    await runMigrations(pg.url);

    const adminToken = loadOrCreateSecret(path.join(o.stateDir, "admin-token"), () => randomBytes(24).toString("hex"), o.persistent);
    const gatewayKey = await loadOrCreateGatewayKey(path.join(o.stateDir, "gateway-key.json"), o.persistent);
    const bindingsFile = path.join(o.stateDir, "bindings.json");
    writeFileSync(
      bindingsFile,
      JSON.stringify({
        ...readWranglerVars(),
        PROVIDER_URL_ALLOWLIST: providerUrlAllowlist,
        ...(chain ? chainBindings(chain) : {}),
        ...o.vars,
        DATABASE_URL: pg.url,
        WSPROXY: proxy.wsProxy,
        ADMIN_TOKEN: adminToken,
        GATEWAY_REQUEST_KEY: gatewayKey.requestKey,
        GATEWAY_ADDRESS: gatewayKey.address,
      }),
      { mode: 0o600 },
    );
    const gateway: ReadyChild<{ url: string }> = await spawnTs(
      "scripts/gateway.ts",
      [
        "--script",
        bundle,
        "--port",
        String(o.gatewayPort),
        "--bindings",
        bindingsFile,
        "--cron-every-ms",
        String(o.cronEveryMs ?? 10_000),
        "--settle-every-ms",
        String(o.settleEveryMs ?? 0),
      ],
      // The drain (scripts/gateway.ts) may take up to 15 s to write the last usage; never SIGKILL it sooner.
      { name: "gateway", log, timeoutMs: 60_000, stopGraceMs: 20_000 },
    );
    stops.push(gateway.stop);
    const gatewayURL = gateway.ready.url;

    const admin = adminClient(gatewayURL, adminToken);
    let engines: StartedProvider[] = bareEngines;
    if (withAgents) {
      // The faucet gives each wallet gas and USDC (one owner, so one mint at a time); each agent stakes on start.
      if (chain)
        for (const spec of specs) await fundWallet(chain.clients, chain.info, providerWallet(o.stateDir, spec.id).address, 1_000_000_000n);
      engines = await Promise.all(specs.map((spec, i) => startAgent(spec, providerPorts[i]!, gatewayURL, o.stateDir, stops, log, chain)));
    } else {
      for (const e of engines) await registerBareEngine(admin, e);
    }
    // Stakes the agents just made become routable once the chain job has read them.
    if (chain) await admin("POST", "/admin/v1/jobs/deposits/run");
    await admin("POST", "/admin/v1/jobs/probe/run");
    const { created, ...creds } = await loadOrCreateCredentials(
      path.join(o.stateDir, "credentials.json"),
      admin,
      gatewayURL,
      o.persistent,
      chain,
    );
    if (o.seedTraffic && created) {
      log(`seeding ${o.seedTraffic} demo requests and a settlement run`);
      // A second key, so the dashboard has more than one to compare.
      const batchKey = await admin("POST", "/admin/v1/keys", { account_id: creds.accountId, name: "dev batch jobs", role: "inference" });
      const seeded = await seedTraffic({
        baseURL: `${gatewayURL}/v1`,
        gatewayURL,
        adminToken,
        apiKeys: [creds.apiKey, String(batchKey.secret)],
        financeKey: creds.financeKey,
        model: CHAT_MODEL,
        embeddingModel: EMBEDDING_MODEL,
        providerIds: specs.map((s) => s.id),
        requests: o.seedTraffic,
        settle: chain !== null,
        log,
      });
      log(`seeded: ${seeded.ok} requests served, ${seeded.failed} failed; settlement ${seeded.settlement}`);
    }

    const info: DevInfo = {
      baseURL: `${gatewayURL}/v1`,
      gatewayURL,
      ...creds,
      adminToken,
      dashboardURL: `${gatewayURL}/dashboard`,
      databaseUrl: pg.url,
      gatewayPid: gateway.pid,
      model: CHAT_MODEL,
      embeddingModel: EMBEDDING_MODEL,
      gatewayAddress: gatewayKey.address,
      gatewayKeyFile: path.join(o.stateDir, "gateway-key.json"),
      chain: chain?.info ?? null,
      providers: engines.map((e) => ({
        id: e.spec.id,
        url: e.url,
        model: CHAT_MODEL,
        inputPrice: e.spec.inputPrice,
        outputPrice: e.spec.outputPrice,
        address: e.address,
        pid: e.pid,
        controlUrl: e.controlUrl,
        metricsUrl: e.metricsUrl,
        embeddingModel: e.spec.embeddings ? EMBEDDING_MODEL : null,
        restart: e.restart,
      })),
    };
    return { info, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
