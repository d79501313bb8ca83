/**
 * The workers project's world, started once in Node: a throwaway Postgres (migrated), the ws proxy,
 * a tap between the two that counts the worker's database sessions, and two simulated engines.
 * The worker itself runs in workerd (vitest-pool-workers) with these as bindings.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { runMigrations } from "../../db/migrate";
import { startSimEngine, type SimEngine } from "../../provider-runtime/sim/engine";
import { startPostgres } from "../../scripts/lib/postgres";
import { startWsProxy } from "../../scripts/lib/wsproxy";
import { startPgTap } from "../support/pg-tap";
import type { EngineInfo } from "../support/provided-context";
import { generateGatewayKeyPair } from "../../workers/core/protocol/gateway-auth";

const MODEL = "meshgate/sim-workers-8b";

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "meshgate-workers-"));
  chmodSync(dir, 0o755); // Postgres runs as the `postgres` user when we are root
  const stops: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [pg, proxy] = await Promise.all([startPostgres({ dataDir: path.join(dir, "pg"), persistent: false }), startWsProxy({})]);
    stops.push(pg.stop, proxy.stop);
    await runMigrations(pg.url, path.resolve("db/migrations"));
    const tap = await startPgTap({ host: "127.0.0.1", port: pg.port });
    stops.push(tap.stop);

    const engines: [string, SimEngine][] = await Promise.all(
      ["wk-a", "wk-b"].map(async (id) => {
        const engine = await startSimEngine({ port: 0, model: MODEL, ttftMs: 5, tokensPerSecond: 0, name: id });
        stops.push(engine.close);
        return [id, engine] as [string, SimEngine];
      }),
    );

    const viaTap = new URL(pg.url);
    viaTap.port = String(tap.port);
    project.provide("DATABASE_URL", viaTap.toString());
    project.provide("WSPROXY", proxy.wsProxy);
    project.provide("ADMIN_TOKEN", randomBytes(24).toString("hex"));
    project.provide("GATEWAY_REQUEST_KEY", (await generateGatewayKeyPair()).privateKey);
    project.provide("MODEL", MODEL);
    project.provide("TAP_URL", tap.controlUrl);
    // The worker admits exactly these private http endpoints (PROVIDER_URL_ALLOWLIST), nothing else.
    project.provide("PROVIDER_URL_ALLOWLIST", engines.map(([, e]) => new URL(e.url).host).join(","));
    project.provide(
      "ENGINES",
      engines.map(([id, e]): EngineInfo => ({ id, url: e.url, controlUrl: e.controlUrl, metricsUrl: e.metricsUrl })),
    );
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
