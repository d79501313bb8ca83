/**
 * `npm run bench`: what the gateway costs over calling the engine directly, in one run.
 *
 *  - Non-streaming chat completions (max_tokens 16, an engine with no artificial delay) at
 *    concurrency 1, 32 and 128 with autocannon: requests/s, p50, p99 for (a) the engine directly,
 *    (b) a bare Hono proxy in workerd (bench/bare-proxy.ts, the floor), (c) the gateway (auth,
 *    validation, routing, usage capture and metering on) and (d) Portkey's open-source gateway in Node
 *    (bench/lib/portkey.ts; left out, with the reason, if it does not start).
 *  - Streaming (max_tokens 64, an engine at 2,000 tokens/s) at concurrency 1 and 32: TTFT and tokens/s per stream.
 *  - Postgres (pg_stat_statements): statements per request in each gateway cell, and the reads
 *    before the first upstream byte (bench/lib/gateway-postgres.ts).
 *  - Issue 13's goal table (bench/lib/gateway-goals.ts): each figure beside the floor's, met or not.
 *  - The gateway's workerd peak RSS, and CPU per request of each process.
 *
 * Starts its own network (bench/network-host.ts) on free ports in a temp dir and tears it down at
 * the end, even on error or Ctrl-C. Markdown to stdout; JSON to artifacts/bench.json.
 * Knobs (env): BENCH_DURATION_SEC (5), BENCH_WARMUP_SEC (1), BENCH_PG_PROBE_REQUESTS (100), BENCH_DB_CORE (0: Postgres + its WebSocket
 * proxy share the gateway's core; 1: they share the engines' and the load generator's core instead).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { spawnTs, stopChild } from "../scripts/lib/children";
import type { DevInfo } from "../scripts/lib/network";
import { freePort } from "../scripts/lib/ports";
import { adminOf } from "./lib/gateway-admin";
import { perRequest, rssSampler, sanity, snapshot, type NonStreamRow, type Pids, type StreamRow } from "./lib/gateway-measure";
import { startBareProxy, startGatewayWithoutAdmission, workerdOf } from "./lib/gateway-processes";
import { report } from "./lib/gateway-report";
import {
  CONCURRENCIES,
  DB_CORE,
  DURATION_SEC,
  ENGINES,
  FIRST_BYTE_PROBE,
  isGateway,
  NON_STREAM_MAX_TOKENS,
  ROOT,
  STREAM,
  TARGETS,
  WARMUP_SEC,
  type TargetName,
} from "./lib/gateway-settings";
import { cleanups, log, runBench } from "./lib/harness";
import { cannon, percentiles, streams, type Target } from "./lib/load";
import { streamMode } from "./lib/gateway-goals";
import { firstByteProbe, windowStatements, type FirstByteProbe } from "./lib/gateway-postgres";
import { enableStatements, statementSnapshot, type StatementTotals } from "./lib/pg-statements";
import { allProcs, descendants, hasTaskset, pin } from "./lib/procfs";
import { startPortkey } from "./lib/portkey";

process.chdir(ROOT); // the network's scripts resolve paths from the repo root

async function main(): Promise<string> {
  const startedAt = performance.now();
  const loadAtStart = os.loadavg();
  const dir = mkdtempSync(path.join(os.tmpdir(), "meshgate-bench-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));

  process.stderr.write("bench: starting Postgres, engines, the gateway (workerd) and the bare proxy…\n");
  const host = await spawnTs<{ info: DevInfo; pid: number }>(
    "bench/network-host.ts",
    ["--state-dir", path.join(dir, "network"), "--gateway-port", String(await freePort()), "--engines", JSON.stringify(ENGINES)],
    { name: "network", log, timeoutMs: 180_000 },
  );
  cleanups.push(() => stopChild(host.child, 30_000));
  const { info } = host.ready;
  const engine = info.providers.find((p) => p.id === "bench")!;
  const streamEngine = info.providers.find((p) => p.id === "bench-stream")!;

  const bare = await startBareProxy(path.join(dir, "bare"), engine.url, streamEngine.url);
  cleanups.push(() => stopChild(bare.child));
  const unguarded = await startGatewayWithoutAdmission(path.join(dir, "network"));
  cleanups.push(() => stopChild(unguarded.child));
  const portkey = await startPortkey({ log });
  cleanups.push(() => portkey.stop());

  // Who is who, and the CPU layout (taskset): the proxy under test on core 0, the engines and the load generator on core 1.
  const procs = allProcs();
  const postmaster = descendants(host.pid, procs).find(
    (p) => p.comm === "postgres" && procs.find((q) => q.pid === p.ppid)?.comm !== "postgres",
  );
  const pids: Pids = {
    gatewayHost: info.gatewayPid,
    gatewayWorkerd: workerdOf(info.gatewayPid),
    bareHost: bare.pid,
    bareWorkerd: workerdOf(bare.pid),
    engines: info.providers.map((p) => p.pid),
    postmaster: postmaster?.pid ?? null,
    networkHost: host.pid,
  };
  if (pids.gatewayWorkerd.length === 0) throw new Error("no workerd process under the gateway");
  const cores = os.cpus().length;
  let pinning: string;
  if (!hasTaskset()) pinning = "not pinned: taskset is not installed";
  else if (cores < 2) pinning = `not pinned: only ${cores} core`;
  else {
    // By default Postgres and its WebSocket proxy, which serve only the gateway, share its core, so
    // that the engine and the load generator do exactly the same work on core 1 whatever the target.
    const dbPids = pids.postmaster ? [pids.postmaster, ...descendants(pids.postmaster).map((p) => p.pid)] : [];
    for (const pid of [
      pids.gatewayHost,
      ...pids.gatewayWorkerd,
      pids.bareHost,
      ...pids.bareWorkerd,
      unguarded.pid,
      ...workerdOf(unguarded.pid),
      ...(portkey.pid ? [portkey.pid] : []),
    ])
      pin(pid, "0");
    for (const pid of [pids.networkHost, ...dbPids]) pin(pid, DB_CORE);
    for (const pid of [...pids.engines, process.pid]) pin(pid, "1");
    pinning =
      DB_CORE === "0"
        ? "core 0: the proxy under test (gateway or bare proxy: workerd + its Miniflare host; Portkey: its Node process) and the gateway's Postgres + WebSocket proxy; core 1: the engines and the load generator"
        : "core 0: the proxy under test (gateway or bare proxy: workerd + its Miniflare host; Portkey: its Node process); core 1: the engines, the load generator and the gateway's Postgres + WebSocket proxy (BENCH_DB_CORE=1)";
  }

  const gatewayRss = rssSampler(() => pids.gatewayWorkerd);
  const bareRss = rssSampler(() => pids.bareWorkerd);
  cleanups.push(async () => {
    gatewayRss.stop();
    bareRss.stop();
  });
  const admin = adminOf(info);
  const db = new pg.Client({ connectionString: info.databaseUrl });
  db.on("error", () => undefined);
  await db.connect();
  cleanups.push(() => db.end());
  const statements = await enableStatements(db);
  const pgWindow = async <T>(on: boolean, work: () => Promise<T>): Promise<[T, StatementTotals | null]> => {
    if (!on || !statements) return [await work(), null];
    const before = await statementSnapshot(db);
    const out = await work();
    return [out, windowStatements(before, await statementSnapshot(db))];
  };

  const json = { "content-type": "application/json" };
  const auth = { ...json, authorization: `Bearer ${info.apiKey}` };
  const messages = [{ role: "user", content: "Say hello to the benchmark." }];
  const body = (stream: boolean) =>
    JSON.stringify(
      stream
        ? { model: info.model, messages, max_tokens: STREAM.maxTokens, stream: true, ignore_eos: true }
        : { model: info.model, messages, max_tokens: NON_STREAM_MAX_TOKENS, ignore_eos: true },
    );
  const targets = (stream: boolean): Record<TargetName, Target> => ({
    direct: { url: `${stream ? streamEngine.url : engine.url}/v1/chat/completions`, headers: json, body: body(stream) },
    "bare proxy": { url: `${bare.ready.url}${stream ? "/stream" : ""}/v1/chat/completions`, headers: json, body: body(stream) },
    gateway: { url: `${info.baseURL}/chat/completions`, headers: auth, body: body(stream) },
    "gateway, admission off": { url: `${unguarded.ready.url}/v1/chat/completions`, headers: auth, body: body(stream) },
    portkey: portkey.target(stream ? streamEngine.url : engine.url, body(stream)),
  });

  // Non-streaming.
  const plain = targets(false);
  await admin.serveOnly("bench", plain.gateway, plain["gateway, admission off"]);
  for (const name of TARGETS) await sanity(name, plain[name], false);
  await portkey.check(plain.direct, plain.portkey, false);
  const nonStream: NonStreamRow[] = [];
  for (const c of CONCURRENCIES) {
    for (const name of portkey.targets(TARGETS)) {
      if (isGateway(name)) {
        await admin.probe();
        await admin.routesTo("bench", plain[name]);
      }
      process.stderr.write(`bench: non-streaming, concurrency ${c}, ${name}…\n`);
      await portkey.guard(name, async () => {
        await cannon(plain[name], c, WARMUP_SEC);
        const before = await snapshot(pids, db);
        const [result, pgs] = await pgWindow(isGateway(name), () => cannon(plain[name], c, DURATION_SEC));
        nonStream.push({ concurrency: c, target: name, result, cpu: perRequest(before, await snapshot(pids, db), result.ok), pg: pgs });
      });
    }
  }

  // Streaming.
  const streamed = targets(true);
  await admin.serveOnly("bench-stream", streamed.gateway, streamed["gateway, admission off"]);
  for (const name of TARGETS) await sanity(name, streamed[name], true);
  await portkey.check(streamed.direct, streamed.portkey, true);
  const streamRows: StreamRow[] = [];
  const measure = async (target: TargetName, mode: string, count: number, concurrency: number): Promise<StreamRow> => {
    const before = await snapshot(pids, db);
    const s = await streams(streamed[target], count, concurrency);
    return {
      target,
      mode,
      streams: s.length,
      ttftMs: percentiles(s.map((x) => x.ttftMs)),
      tokensPerSec: percentiles(s.map((x) => x.tokensPerSec).filter(Number.isFinite)),
      totalMs: percentiles(s.map((x) => x.totalMs)),
      otherLoadPct: perRequest(before, await snapshot(pids, db), s.length).otherLoadPct,
    };
  };
  for (const name of portkey.targets(TARGETS)) {
    if (isGateway(name)) {
      await admin.probe();
      await admin.routesTo("bench-stream", streamed[name]);
    }
    process.stderr.write(`bench: streaming, ${name}…\n`);
    await portkey.guard(name, async () => {
      await streams(streamed[name], STREAM.warmup, 1);
      for (const run of STREAM.runs) streamRows.push(await measure(name, streamMode(run.concurrency), run.count, run.concurrency));
    });
  }

  // Postgres reads before the first upstream byte (the gateway, one streamed request at a time).
  let firstByte: FirstByteProbe | null = null;
  if (statements) {
    process.stderr.write(`bench: Postgres statements before the first byte, ${FIRST_BYTE_PROBE.requests} streamed requests…\n`);
    await admin.probe();
    await admin.routesTo("bench-stream", streamed.gateway);
    firstByte = await firstByteProbe(streamed.gateway, db, FIRST_BYTE_PROBE);
  }

  gatewayRss.stop();
  bareRss.stop();
  const memoryKb = {
    gatewayPeakRss: gatewayRss.peakKb(),
    gatewayHwm: gatewayRss.hwmKb(),
    gatewayEnd: gatewayRss.nowKb(),
    barePeakRss: bareRss.peakKb(),
    bareHwm: bareRss.hwmKb(),
  };
  const runtimeSec = (performance.now() - startedAt) / 1000;
  const loadAvg = { atStart: loadAtStart, atEnd: os.loadavg() };

  return report({
    info,
    pinning,
    cores,
    nonStream,
    streamRows,
    memoryKb,
    runtimeSec,
    pids,
    firstByte,
    statements,
    loadAvg,
    portkey: portkey.note(),
  });
}

await runBench("bench", main);
