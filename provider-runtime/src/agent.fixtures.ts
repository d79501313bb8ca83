/**
 * What the agent tests share: a config for an agent on the simulated engine talking to a fake
 * gateway (its outbox in a fresh temp dir), a chat request, and the engine's fault switch.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey } from "viem/accounts";
import { readConfig } from "./config";
import type { FakeGateway } from "./fake-gateway";

export const MODEL = "meshgate/sim-llama-8b";
export const EMBED = "meshgate/sim-embed";
export const quiet = () => {};
const dirs: string[] = [];

export function config(gw: FakeGateway, extra: string[] = [], key: `0x${string}` = generatePrivateKey()) {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-outbox-"));
  dirs.push(dir);
  return readConfig(
    [
      "--gateway",
      gw.url,
      "--engine",
      "sim",
      "--sim-ttft-ms",
      "0",
      "--sim-tokens-per-second",
      "0",
      "--sim-embedding-model",
      EMBED,
      "--model",
      MODEL,
      "--price-in",
      "0.15",
      "--price-out",
      "0.6",
      "--port",
      "0",
      "--wallet-key",
      key,
      "--heartbeat-ms",
      "100",
      "--outbox-ms",
      "100",
      "--context-length",
      "512",
      "--outbox-dir",
      dir,
      ...extra,
    ],
    {},
  );
}

/** Removes the outbox dirs of every config made so far: for a file's afterAll, once its agents are down. */
export function removeOutboxDirs() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export const chat = (extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: [{ role: "user", content: "tell me something" }],
  seed: 3,
  ...extra,
});
export const setMode = (controlUrl: string, mode: Record<string, unknown>) =>
  fetch(controlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(mode) }).then((r) => r.json());
export const sha256Hex = (bytes: string | Buffer) => `0x${createHash("sha256").update(bytes).digest("hex")}`;
