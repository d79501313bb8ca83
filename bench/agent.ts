/**
 * `npm run bench` (second part): what the provider agent's hop costs, in one run.
 *
 *  - Non-streaming chat completions (max_tokens 16, an engine with no artificial delay) at
 *    concurrency 1 and 32: (a) the engine directly, (b) through the agent (gateway signature
 *    checked, request forwarded, usage read, EIP-712 receipt signed and put in the outbox), and
 *    (c) through the gateway (workerd) and the agent. Every request to the agent carries its own
 *    gateway signature (request id + timestamp), signed ahead of the cell with the gateway's key.
 *  - Receipts per second on one core (this process, pinned): the agent's signing path as it runs
 *    it (bench/lib/agent-receipts.ts), viem's generic signer beside it, and the gateway's verifier.
 *  - The goal table (issue 13, the agent hop): ≤ 5 ms added p50 at concurrency 32, ≥ 3,000 receipts/s.
 *
 * The engine is its own process (as vLLM is), so the agent's column is the agent alone.
 * Markdown to stdout; JSON to artifacts/bench-agent.json. Knobs: BENCH_DURATION_SEC, BENCH_WARMUP_SEC.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { generatePrivateKey } from "viem/accounts";
import { spawnTs, stopChild } from "../scripts/lib/children";
import type { DevInfo } from "../scripts/lib/network";
import { freePort } from "../scripts/lib/ports";
import { importGatewaySigningKey, signGatewayRequest } from "../workers/core/protocol/gateway-auth";
import { cannon, type CannonResult, type Target } from "./lib/load";
import { cpuMs, descendants, hasTaskset, pin } from "./lib/procfs";
import { fmt, int, signed, table } from "./lib/table";
import { cleanups, log, runBench } from "./lib/harness";
import { receiptThroughput, type ReceiptRates } from "./lib/agent-receipts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(ROOT);

const WARMUP_SEC = Number(process.env.BENCH_WARMUP_SEC ?? 1);
const DURATION_SEC = Number(process.env.BENCH_DURATION_SEC ?? 5);
const CONCURRENCIES = [1, 32];
const MAX_TOKENS = 16;
/** Signed requests per cell: more than the agent can answer in warm-up + duration. */
const SIGNED_POOL = 40_000;

type TargetName = "direct" | "agent" | "gateway + agent";
const TARGETS: TargetName[] = ["direct", "agent", "gateway + agent"];

interface Row {
  concurrency: number;
  target: TargetName;
  result: CannonResult;
  agentCpuUs: number;
}

/** Signs `count` requests for the agent ahead of time: signing is the gateway's work, not the agent's. */
async function signedPool(requestKey: string, body: string, count: number): Promise<Record<string, string>[]> {
  const key = await importGatewaySigningKey(requestKey);
  const now = Date.now();
  const pool: Record<string, string>[] = [];
  for (let i = 0; i < count; i++) {
    pool.push(
      await signGatewayRequest(key, {
        method: "POST",
        path: "/v1/chat/completions",
        requestId: `gen-bench-${now}-${i}`,
        timestampMs: now,
        body,
      }),
    );
  }
  return pool;
}

async function main(): Promise<string> {
  const startedAt = performance.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), "meshgate-bench-agent-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));

  process.stderr.write("bench (agent): starting Postgres, the gateway (workerd), an engine and an agent…\n");
  const agentPort = await freePort(); // chosen first: the gateway admits exactly this private endpoint
  const host = await spawnTs<{ info: DevInfo; pid: number }>(
    "bench/network-host.ts",
    [
      "--state-dir",
      path.join(dir, "network"),
      "--gateway-port",
      String(await freePort()),
      "--engines",
      "[]",
      "--extra-provider-ports",
      String(agentPort),
    ],
    { name: "network", log, timeoutMs: 180_000 },
  );
  cleanups.push(() => stopChild(host.child, 30_000));
  const { info } = host.ready;

  const engine = await spawnTs<{ url: string }>(
    "provider-runtime/sim/main.ts",
    [
      "--port",
      String(await freePort()),
      "--model",
      info.model,
      "--ttft-ms",
      "0",
      "--tokens-per-second",
      "0",
      "--max-running",
      "256",
      "--name",
      "bench-engine",
    ],
    { name: "engine", log },
  );
  cleanups.push(() => stopChild(engine.child));
  const walletFile = path.join(dir, "wallet.key");
  writeFileSync(walletFile, generatePrivateKey(), { mode: 0o600 });
  const agent = await spawnTs<{ url: string; address: string }>(
    "provider-runtime/src/main.ts",
    [
      "--gateway",
      info.gatewayURL,
      "--engine-url",
      engine.ready.url,
      "--model",
      info.model,
      "--price-in",
      "0.10",
      "--price-out",
      "0.20",
      "--port",
      String(agentPort),
      "--wallet-key-file",
      walletFile,
      "--provider-id",
      "bench-agent",
      "--region",
      "local",
      "--max-concurrency",
      "256",
      "--outbox-dir",
      path.join(dir, "outbox"),
      "--heartbeat-ms",
      "2000",
    ],
    { name: "agent", log, timeoutMs: 60_000 },
  );
  cleanups.push(() => stopChild(agent.child, 10_000));

  const workerd = descendants(info.gatewayPid)
    .filter((p) => p.comm === "workerd")
    .map((p) => p.pid);
  let pinning = "not pinned: taskset is not installed or one core";
  if (hasTaskset() && os.cpus().length >= 2) {
    for (const pid of [agent.pid, info.gatewayPid, ...workerd]) pin(pid, "0");
    for (const pid of [engine.pid, process.pid]) pin(pid, "1");
    pinning = "core 0: the agent and the gateway (workerd + its host); core 1: the engine and the load generator; Postgres unpinned";
  }

  const body = JSON.stringify({
    model: info.model,
    messages: [{ role: "user", content: "Say hello to the benchmark." }],
    max_tokens: MAX_TOKENS,
    ignore_eos: true,
  });
  const json = { "content-type": "application/json" };
  const targets: Record<TargetName, Target> = {
    direct: { url: `${engine.ready.url}/v1/chat/completions`, headers: json, body },
    agent: { url: `${agent.ready.url}/v1/chat/completions`, headers: json, body },
    "gateway + agent": { url: `${info.baseURL}/chat/completions`, headers: { ...json, authorization: `Bearer ${info.apiKey}` }, body },
  };
  const { requestKey } = JSON.parse(readFileSync(info.gatewayKeyFile, "utf8")) as { requestKey: string };

  // The gateway must route to the agent before we measure through it.
  const check = await fetch(targets["gateway + agent"].url, { method: "POST", headers: targets["gateway + agent"].headers, body });
  const checkText = await check.text();
  if (!check.ok || check.headers.get("x-meshgate-provider") !== "bench-agent") {
    throw new Error(
      `the gateway does not route to the agent: ${check.status} ${check.headers.get("x-meshgate-provider")} ${checkText.slice(0, 200)}`,
    );
  }

  const rows: Row[] = [];
  for (const c of CONCURRENCIES) {
    for (const name of TARGETS) {
      process.stderr.write(`bench (agent): concurrency ${c}, ${name}…\n`);
      let next: (() => Record<string, string>) | undefined;
      if (name === "agent") {
        const pool = await signedPool(requestKey, body, SIGNED_POOL);
        let i = 0;
        next = () => pool[i++ % pool.length]!; // wraps only if the pool runs out: those replays count as non-2xx
      }
      await cannon(targets[name], c, WARMUP_SEC, next);
      const cpu0 = cpuMs([agent.pid]);
      const result = await cannon(targets[name], c, DURATION_SEC, next);
      rows.push({
        concurrency: c,
        target: name,
        result,
        agentCpuUs: result.ok > 0 ? ((cpuMs([agent.pid]) - cpu0) * 1000) / result.ok : Number.NaN,
      });
    }
  }
  process.stderr.write("bench (agent): receipts signed and verified per second…\n");
  const receipts = await receiptThroughput();
  return report(rows, receipts, pinning, (performance.now() - startedAt) / 1000);
}

function report(rows: Row[], receipts: ReceiptRates, pinning: string, runtimeSec: number): string {
  const out: string[] = ["# Meshgate provider agent bench", ""];
  out.push(`- node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown"})`, `- CPU layout: ${pinning}`);
  out.push(
    `- POST /v1/chat/completions, max_tokens ${MAX_TOKENS}, engine ttft 0 ms and no token pacing; autocannon, ${WARMUP_SEC} s warm-up + ${DURATION_SEC} s per cell, 2xx latencies only`,
    "",
  );
  out.push(
    table(
      ["concurrency", "target", "req/s", "p50 ms", "p99 ms", "non-2xx/errors", "agent CPU µs/req"],
      rows.map((r) => [
        r.concurrency,
        r.target,
        int(r.result.rps),
        fmt(r.result.latencyMs.p50),
        fmt(r.result.latencyMs.p99),
        `${r.result.non2xx}/${r.result.errors + r.result.timeouts}`,
        r.target === "direct" ? "—" : int(r.agentCpuUs),
      ]),
    ),
  );
  out.push("");
  const cell = (c: number, t: TargetName) => rows.find((r) => r.concurrency === c && r.target === t)!.result;
  out.push("The agent's added latency (difference of the percentiles, agent vs direct):", "");
  out.push(
    table(
      ["concurrency", "added p50", "added p99", "agent req/s (% of direct)"],
      CONCURRENCIES.map((c) => {
        const d = cell(c, "direct"),
          a = cell(c, "agent");
        return [
          c,
          `${signed(a.latencyMs.p50 - d.latencyMs.p50)} ms`,
          `${signed(a.latencyMs.p99 - d.latencyMs.p99)} ms`,
          `${int(a.rps)} (${Math.round((100 * a.rps) / d.rps)}%)`,
        ];
      }),
    ),
  );
  out.push("");
  out.push(
    `Receipts on one core of this process: the agent's path (sign + wire form + outbox, fsync'd) with 32 answers in flight ` +
      `${int(receipts.agentSignedPerSec)}/s (${fmt(receipts.receiptsPerSignature, 1)} receipts per batch signature), one at a time ` +
      `${int(receipts.agentAlonePerSec)}/s; viem's generic EIP-712 signer ${int(receipts.viemSignedPerSec)}/s; ` +
      `the gateway's verifier (batch roots remembered) ${int(receipts.verifiedPerSec)}/s.`,
    "",
  );
  const added = (c: number) => cell(c, "agent").latencyMs.p50 - cell(c, "direct").latencyMs.p50;
  const met = (ok: boolean) => (ok ? "yes" : "**no**");
  out.push("## Goal (issue 13: the agent hop)", "");
  out.push(
    table(
      ["goal", "target", "measured", "met"],
      [
        ["agent's added p50 at concurrency 32", "≤ 5 ms", `${signed(added(32))} ms`, met(added(32) <= 5)],
        ["agent's added p50 at concurrency 1", "(reported)", `${signed(added(1))} ms`, "—"],
        [
          "receipts signed per second, one core (the agent's path, 32 in flight)",
          "≥ 3,000",
          int(receipts.agentSignedPerSec),
          met(receipts.agentSignedPerSec >= 3000),
        ],
      ],
    ),
  );
  out.push("", `Start-up and measurements: ${fmt(runtimeSec, 1)} s. JSON: artifacts/bench-agent.json`);
  mkdirSync(path.join(ROOT, "artifacts"), { recursive: true });
  writeFileSync(
    path.join(ROOT, "artifacts/bench-agent.json"),
    JSON.stringify({ at: new Date().toISOString(), pinning, rows, receipts, runtimeSec }, null, 2),
  );
  return out.join("\n");
}

await runBench("bench (agent)", main);
