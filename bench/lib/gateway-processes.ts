/** The gateway bench's own processes beside the network: the bare proxy (the floor) and a gateway with admission off. */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { spawnTs, type ReadyChild } from "../../scripts/lib/children";
import { freePort } from "../../scripts/lib/ports";
import { ROOT } from "./gateway-settings";
import { log } from "./harness";
import { descendants } from "./procfs";

const run = promisify(execFile);

/** Bundles bench/bare-proxy.ts with wrangler (esbuild), as the gateway is bundled. */
async function buildBareProxy(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "wrangler.toml");
  writeFileSync(
    config,
    [
      `name = "meshgate-bench-bare-proxy"`,
      `main = ${JSON.stringify(path.join(ROOT, "bench/bare-proxy.ts"))}`,
      `compatibility_date = "2026-04-01"`,
      `compatibility_flags = ["nodejs_compat"]`,
    ].join("\n"),
  );
  await run(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", path.join(dir, "out"), "--config", config], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" },
    maxBuffer: 16 * 1024 * 1024,
  });
  return path.join(dir, "out", "bare-proxy.js");
}

/** The same gateway bundle and bindings with ADMISSION=off: what admission (the Durable Object round trip) costs. */
export async function startGatewayWithoutAdmission(networkDir: string): Promise<ReadyChild<{ url: string }>> {
  const bindings = JSON.parse(readFileSync(path.join(networkDir, "bindings.json"), "utf8")) as Record<string, string>;
  const file = path.join(networkDir, "bindings-no-admission.json");
  writeFileSync(file, JSON.stringify({ ...bindings, ADMISSION: "off" }), { mode: 0o600 });
  return spawnTs(
    "scripts/gateway.ts",
    [
      "--script",
      path.join(networkDir, "build", "index.js"),
      "--port",
      String(await freePort()),
      "--bindings",
      file,
      "--cron-every-ms",
      "0",
    ],
    { name: "gateway-no-admission", log, timeoutMs: 60_000 },
  );
}

export async function startBareProxy(dir: string, upstream: string, streamUpstream: string): Promise<ReadyChild<{ url: string }>> {
  const bundle = await buildBareProxy(path.join(dir, "build"));
  const bindings = path.join(dir, "bindings.json");
  writeFileSync(bindings, JSON.stringify({ UPSTREAM: upstream, STREAM_UPSTREAM: streamUpstream }));
  // scripts/gateway.ts runs any bundle in workerd through Miniflare: the same runner as the gateway.
  return spawnTs(
    "scripts/gateway.ts",
    ["--script", bundle, "--port", String(await freePort()), "--bindings", bindings, "--cron-every-ms", "0", "--bare"],
    { name: "bare-proxy", log, timeoutMs: 60_000 },
  );
}

export const workerdOf = (pid: number) =>
  descendants(pid)
    .filter((p) => p.comm === "workerd")
    .map((p) => p.pid);
