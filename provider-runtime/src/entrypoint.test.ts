/**
 * The container's entrypoint, run for real with MESHGATE_ENGINE=sim and the same single-file
 * bundle the Dockerfile builds (plain node, no tsx): it starts the agent, serves a signed request,
 * and on SIGTERM drains and exits 0 with nothing left running. (No Docker engine here: the image
 * itself is not built by the tests.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { HeartbeatPayload } from "../../workers/core/protocol/provider-messages";
import { RECEIPT_HEADER } from "../../workers/core/protocol/receipt";
import { bundleAgent } from "./bundle";
import { eventually, FakeGateway } from "./fake-gateway";

const dir = mkdtempSync(join(tmpdir(), "meshgate-entrypoint-"));
const bundle = join(dir, "provider-agent.mjs");
let gw: FakeGateway;
let child: ChildProcess | undefined;

beforeAll(async () => {
  [gw] = await Promise.all([new FakeGateway().start(), bundleAgent(bundle)]);
}, 30_000);
afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it("runs the agent on the simulated engine, and drains and exits 0 on SIGTERM", async () => {
  const proc = spawn("sh", ["provider-runtime/entrypoint.sh", "--region", "container-test"], {
    env: {
      PATH: process.env.PATH ?? "",
      MESHGATE_ENGINE: "sim",
      MESHGATE_AGENT_CMD: `${process.execPath} ${bundle}`,
      MESHGATE_GATEWAY: gw.url,
      MESHGATE_MODEL: "meshgate/sim-llama-8b",
      MESHGATE_PRICE_IN: "0.1",
      MESHGATE_PRICE_OUT: "0.2",
      MESHGATE_WALLET_KEY: generatePrivateKey(),
      MESHGATE_PORT: "0",
      MESHGATE_SIM_TTFT_MS: "0",
      MESHGATE_SIM_TOKENS_PER_SECOND: "0",
      MESHGATE_OUTBOX_DIR: join(dir, "outbox"),
      MESHGATE_HEARTBEAT_MS: "200",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const ready = await new Promise<{ url: string; pid: number; engine: { controlUrl: string } }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${stderr}`)), 15_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line) as { event?: string };
      if (msg.event === "ready") {
        clearTimeout(timer);
        resolve(msg as never);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  expect(ready.engine.controlUrl).toMatch(/\/sim\/control$/);
  expect(gw.registers.at(-1)!.payload).toMatchObject({ region: "container-test" });
  const res = await gw.send(ready.url, "/v1/chat/completions", {
    model: "meshgate/sim-llama-8b",
    messages: [{ role: "user", content: "hi" }],
  });
  expect(res.status).toBe(200);
  expect(res.headers.get(RECEIPT_HEADER)).toBeTruthy();
  await res.text();

  proc.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(alive(ready.pid)).toBe(false);
  expect((gw.heartbeats.at(-1)!.payload as HeartbeatPayload).draining).toBe(true);
  await eventually(() => gw.acknowledged.size === 1, 1_000, "the flushed receipt");
}, 30_000);

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn("sh", ["provider-runtime/entrypoint.sh"], {
      env: { MESHGATE_AGENT_CMD: `${process.execPath} ${bundle}`, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.once("exit", (code) => resolve({ code, stderr }));
  });
}

it("exits with the agent's status when the agent stops, and stops the agent when the engine exits", async () => {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  // A stand-in `vllm` that fails while loading, as a real one does without a GPU.
  writeFileSync(join(bin, "vllm"), "#!/bin/sh\nsleep 0.5\necho 'fake vllm: no GPU' >&2\nexit 3\n", { mode: 0o755 });
  const PATH = `${bin}:${process.env.PATH ?? ""}`;
  const [badConfig, noModel, engineDied] = await Promise.all([
    runToExit({ PATH, MESHGATE_ENGINE: "sim" }),
    runToExit({ PATH }),
    runToExit({
      PATH,
      MODEL: "org/model",
      VLLM_PORT: "9",
      MESHGATE_GATEWAY: gw.url,
      MESHGATE_PRICE_IN: "0.1",
      MESHGATE_PRICE_OUT: "0.2",
      MESHGATE_WALLET_KEY: generatePrivateKey(),
      MESHGATE_OUTBOX_DIR: join(dir, "outbox-2"),
    }),
  ]);
  expect(badConfig).toEqual({
    code: 2,
    stderr: "meshgate-provider: --gateway (MESHGATE_GATEWAY) is required: gateway base URL (required)\n",
  });
  expect(noModel).toEqual({ code: 2, stderr: "entrypoint: MODEL is required: the model vLLM serves (a Hugging Face id or a path)\n" });
  expect(engineDied.code).toBe(3);
  expect(engineDied.stderr).toContain("entrypoint: the engine exited with status 3; stopping the agent");
}, 20_000);
