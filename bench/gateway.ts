/**
 * `npm run bench`: what the gateway costs over calling the engine directly, in one run.
 *
 *  - Non-streaming chat completions (max_tokens 16, an engine with no artificial delay) at
 *    concurrency 1, 32 and 128 with autocannon: requests/s, p50, p99 for (a) the engine directly,
 *    (b) a bare Hono proxy in workerd (bench/bare-proxy.ts, the floor) and (c) the gateway (auth,
 *    validation, routing, usage capture and metering on).
 *  - Streaming (max_tokens 64, an engine at 2,000 tokens/s): TTFT and tokens/s per stream.
 *  - The gateway's workerd peak RSS, and CPU per request of each process.
 *
 * Starts its own network (bench/network-host.ts) on free ports in a temp dir and tears it down at
 * the end, even on error or Ctrl-C. Markdown to stdout; JSON to artifacts/bench.json.
 * Knobs (env): BENCH_DURATION_SEC (5), BENCH_WARMUP_SEC (1), BENCH_DB_CORE (0: Postgres + its WebSocket
 * proxy share the gateway's core; 1: they share the engines' and the load generator's core instead).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { spawnTs, stopChild, type ReadyChild } from "../scripts/lib/children";
import type { DevInfo, EngineSpec } from "../scripts/lib/network";
import { freePort } from "../scripts/lib/ports";
import { cannon, percentiles, streams, type CannonResult, type Percentiles, type Target } from "./lib/load";
import { allProcs, coreBusy, coreTimes, cpuMs, descendants, hasTaskset, machineCpuMs, memory, pin, postgresCpuMs, treeCpuMs } from "./lib/procfs";
import { fmt, int, signed, table } from "./lib/table";
import { cleanups, log, runBench } from "./lib/harness";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(ROOT); // the network's scripts resolve paths from the repo root

const WARMUP_SEC = Number(process.env.BENCH_WARMUP_SEC ?? 1);
const DURATION_SEC = Number(process.env.BENCH_DURATION_SEC ?? 5);
const CONCURRENCIES = [1, 32, 128];
const STREAM = { tokensPerSecond: 2000, maxTokens: 64, warmup: 10, sequential: 50, concurrent: 200, concurrency: 8 };
const NON_STREAM_MAX_TOKENS = 16;
const DB_CORE = process.env.BENCH_DB_CORE === "1" ? "1" : "0";

const ENGINES: EngineSpec[] = [
  { id: "bench", inputPrice: "0.10", outputPrice: "0.20", ttftMs: 0, tokensPerSecond: 0, embeddings: false },
  { id: "bench-stream", inputPrice: "0.10", outputPrice: "0.20", ttftMs: 0, tokensPerSecond: STREAM.tokensPerSecond, embeddings: false },
];

type TargetName = "direct" | "bare proxy" | "gateway" | "gateway, admission off";
const TARGETS: TargetName[] = ["direct", "bare proxy", "gateway", "gateway, admission off"];
const isGateway = (t: TargetName) => t === "gateway" || t === "gateway, admission off";

// ---- Child processes ----

const run = promisify(execFile);

/** Bundles bench/bare-proxy.ts with wrangler (esbuild), as the gateway is bundled. */
async function buildBareProxy(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "wrangler.toml");
  writeFileSync(config, [
    `name = "meshgate-bench-bare-proxy"`,
    `main = ${JSON.stringify(path.join(ROOT, "bench/bare-proxy.ts"))}`,
    `compatibility_date = "2026-04-01"`,
    `compatibility_flags = ["nodejs_compat"]`,
  ].join("\n"));
  await run(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", path.join(dir, "out"), "--config", config], {
    cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" }, maxBuffer: 16 * 1024 * 1024,
  });
  return path.join(dir, "out", "bare-proxy.js");
}

/** The same gateway bundle and bindings with ADMISSION=off: what admission (the Durable Object round trip) costs. */
async function startGatewayWithoutAdmission(networkDir: string): Promise<ReadyChild<{ url: string }>> {
  const bindings = JSON.parse(readFileSync(path.join(networkDir, "bindings.json"), "utf8")) as Record<string, string>;
  const file = path.join(networkDir, "bindings-no-admission.json");
  writeFileSync(file, JSON.stringify({ ...bindings, ADMISSION: "off" }), { mode: 0o600 });
  return spawnTs("scripts/gateway.ts", [
    "--script", path.join(networkDir, "build", "index.js"), "--port", String(await freePort()), "--bindings", file, "--cron-every-ms", "0",
  ], { name: "gateway-no-admission", log, timeoutMs: 60_000 });
}

async function startBareProxy(dir: string, upstream: string, streamUpstream: string): Promise<ReadyChild<{ url: string }>> {
  const bundle = await buildBareProxy(path.join(dir, "build"));
  const bindings = path.join(dir, "bindings.json");
  writeFileSync(bindings, JSON.stringify({ UPSTREAM: upstream, STREAM_UPSTREAM: streamUpstream }));
  // scripts/gateway.ts runs any bundle in workerd through Miniflare: the same runner as the gateway.
  return spawnTs("scripts/gateway.ts", ["--script", bundle, "--port", String(await freePort()), "--bindings", bindings, "--cron-every-ms", "0", "--bare"], { name: "bare-proxy", log, timeoutMs: 60_000 });
}

const workerdOf = (pid: number) => descendants(pid).filter((p) => p.comm === "workerd").map((p) => p.pid);

// ---- The gateway's admin API: probes (heartbeats go stale after 30 s) and which engine serves ----

function adminOf(info: DevInfo) {
  const call = async (p: string) => {
    const res = await fetch(`${info.gatewayURL}${p}`, { method: "POST", headers: { authorization: `Bearer ${info.adminToken}` } });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${p} → ${res.status}: ${text}`);
    return JSON.parse(text) as { data?: { providerId: string; ok: boolean; error: string | null }[] };
  };
  const probe = async () => {
    const r = await call("/admin/v1/jobs/probe/run");
    const failed = (r.data ?? []).filter((x) => !x.ok);
    if (failed.length) throw new Error(`probe failed: ${failed.map((f) => `${f.providerId}: ${f.error}`).join("; ")}`);
  };
  /** Suspends every other engine, probes, and waits until each gateway (own route cache) routes to `id`. */
  const serveOnly = async (id: string, ...checks: Target[]) => {
    for (const p of info.providers) await call(`/admin/v1/providers/${p.id}/${p.id === id ? "resume" : "suspend"}`);
    await probe();
    for (const check of checks) await routesTo(id, check);
  };
  const routesTo = async (id: string, check: Target) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(check.url, { method: "POST", headers: check.headers, body: check.body });
      await res.arrayBuffer();
      const served = res.headers.get("x-meshgate-provider");
      if (res.ok && served === id) return;
      if (Date.now() > deadline) throw new Error(`the gateway still routes to ${served} (status ${res.status}), not ${id}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { probe, serveOnly, routesTo };
}

// ---- Measurements ----

interface Pids { gatewayWorkerd: number[]; gatewayHost: number; bareWorkerd: number[]; bareHost: number; engines: number[]; postmaster: number | null; networkHost: number }

interface CpuSnapshot { atMs: number; gateway: number; bare: number; engine: number; pg: number; ws: number; mine: number; machine: number; cores: ReturnType<typeof coreTimes>; pgSessions: number }
async function snapshot(p: Pids, db: pg.Client): Promise<CpuSnapshot> {
  const pgSessions = Number((await db.query<{ s: string }>("select sessions::text as s from pg_stat_database where datname = current_database()")).rows[0]?.s ?? Number.NaN);
  return {
    atMs: performance.now(), gateway: cpuMs(p.gatewayWorkerd), bare: cpuMs(p.bareWorkerd), engine: cpuMs(p.engines),
    // The usage writes: Postgres and the WebSocket proxy in front of it (in the network host).
    pg: p.postmaster ? postgresCpuMs(p.postmaster) : Number.NaN, ws: cpuMs([p.networkHost]),
    // Everything this bench started, to tell other load on the machine apart.
    mine: treeCpuMs(process.pid), machine: machineCpuMs(), cores: coreTimes(), pgSessions,
  };
}

interface CpuPerRequest {
  gatewayUs: number; bareUs: number; engineUs: number; postgresUs: number; wsproxyUs: number; coreBusyPct: number[];
  /** CPU used by processes this bench did not start, in % of one core: noise. */
  otherLoadPct: number;
  /** New Postgres sessions (connections) per 1,000 requests; the bench's own client stays connected. */
  pgSessionsPer1k: number;
}
function perRequest(a: CpuSnapshot, b: CpuSnapshot, requests: number): CpuPerRequest {
  const us = (x: number, y: number) => (requests > 0 ? ((y - x) * 1000) / requests : Number.NaN);
  return {
    gatewayUs: us(a.gateway, b.gateway), bareUs: us(a.bare, b.bare), engineUs: us(a.engine, b.engine),
    postgresUs: us(a.pg, b.pg), wsproxyUs: us(a.ws, b.ws), coreBusyPct: coreBusy(a.cores, b.cores),
    otherLoadPct: Math.max(0, (100 * ((b.machine - a.machine) - (b.mine - a.mine))) / (b.atMs - a.atMs)),
    pgSessionsPer1k: requests > 0 ? (1000 * (b.pgSessions - a.pgSessions)) / requests : Number.NaN,
  };
}

interface NonStreamRow { concurrency: number; target: TargetName; result: CannonResult; cpu: CpuPerRequest }
interface StreamRow { target: TargetName; mode: string; streams: number; ttftMs: Percentiles; tokensPerSec: Percentiles; totalMs: Percentiles; otherLoadPct: number }

/** Peak RSS of the workerd processes, sampled every 100 ms, plus the kernel's high-water mark. */
function rssSampler(pidsOf: () => number[]) {
  let peakKb = 0;
  const sample = () => { let kb = 0; for (const pid of pidsOf()) kb += memory(pid)?.rssKb ?? 0; peakKb = Math.max(peakKb, kb); };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop: () => { clearInterval(timer); sample(); },
    peakKb: () => peakKb,
    hwmKb: () => pidsOf().reduce((kb, pid) => kb + (memory(pid)?.hwmKb ?? 0), 0),
    nowKb: () => pidsOf().reduce((kb, pid) => kb + (memory(pid)?.rssKb ?? 0), 0),
  };
}

async function sanity(name: string, t: Target, stream: boolean) {
  const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
  const text = await res.text();
  if (!res.ok || (stream ? !text.includes("data:") : !text.includes('"choices"'))) throw new Error(`${name}: sanity request answered ${res.status}: ${text.slice(0, 300)}`);
}

// ---- Main ----

async function main(): Promise<string> {
  const startedAt = performance.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), "meshgate-bench-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));

  process.stderr.write("bench: starting Postgres, engines, the gateway (workerd) and the bare proxy…\n");
  const host = await spawnTs<{ info: DevInfo; pid: number }>("bench/network-host.ts", [
    "--state-dir", path.join(dir, "network"), "--gateway-port", String(await freePort()), "--engines", JSON.stringify(ENGINES),
  ], { name: "network", log, timeoutMs: 180_000 });
  cleanups.push(() => stopChild(host.child, 30_000));
  const { info } = host.ready;
  const engine = info.providers.find((p) => p.id === "bench")!;
  const streamEngine = info.providers.find((p) => p.id === "bench-stream")!;

  const bare = await startBareProxy(path.join(dir, "bare"), engine.url, streamEngine.url);
  cleanups.push(() => stopChild(bare.child));
  const unguarded = await startGatewayWithoutAdmission(path.join(dir, "network"));
  cleanups.push(() => stopChild(unguarded.child));

  // Who is who, and the CPU layout (taskset): the proxy under test on core 0, the engines and the load generator on core 1.
  const procs = allProcs();
  const postmaster = descendants(host.pid, procs).find((p) => p.comm === "postgres" && procs.find((q) => q.pid === p.ppid)?.comm !== "postgres");
  const pids: Pids = {
    gatewayHost: info.gatewayPid, gatewayWorkerd: workerdOf(info.gatewayPid), bareHost: bare.pid, bareWorkerd: workerdOf(bare.pid),
    engines: info.providers.map((p) => p.pid), postmaster: postmaster?.pid ?? null, networkHost: host.pid,
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
    for (const pid of [pids.gatewayHost, ...pids.gatewayWorkerd, pids.bareHost, ...pids.bareWorkerd, unguarded.pid, ...workerdOf(unguarded.pid)]) pin(pid, "0");
    for (const pid of [pids.networkHost, ...dbPids]) pin(pid, DB_CORE);
    for (const pid of [...pids.engines, process.pid]) pin(pid, "1");
    pinning = DB_CORE === "0"
      ? "core 0: the proxy under test (gateway or bare proxy: workerd + its Miniflare host) and the gateway's Postgres + WebSocket proxy; core 1: the engines and the load generator"
      : "core 0: the proxy under test (gateway or bare proxy: workerd + its Miniflare host); core 1: the engines, the load generator and the gateway's Postgres + WebSocket proxy (BENCH_DB_CORE=1)";
  }

  const gatewayRss = rssSampler(() => pids.gatewayWorkerd);
  const bareRss = rssSampler(() => pids.bareWorkerd);
  cleanups.push(async () => { gatewayRss.stop(); bareRss.stop(); });
  const admin = adminOf(info);
  const db = new pg.Client({ connectionString: info.databaseUrl });
  db.on("error", () => undefined);
  await db.connect();
  cleanups.push(() => db.end());

  const json = { "content-type": "application/json" };
  const auth = { ...json, authorization: `Bearer ${info.apiKey}` };
  const messages = [{ role: "user", content: "Say hello to the benchmark." }];
  const body = (stream: boolean) => JSON.stringify(stream
    ? { model: info.model, messages, max_tokens: STREAM.maxTokens, stream: true, ignore_eos: true }
    : { model: info.model, messages, max_tokens: NON_STREAM_MAX_TOKENS, ignore_eos: true });
  const targets = (stream: boolean): Record<TargetName, Target> => ({
    direct: { url: `${stream ? streamEngine.url : engine.url}/v1/chat/completions`, headers: json, body: body(stream) },
    "bare proxy": { url: `${bare.ready.url}${stream ? "/stream" : ""}/v1/chat/completions`, headers: json, body: body(stream) },
    gateway: { url: `${info.baseURL}/chat/completions`, headers: auth, body: body(stream) },
    "gateway, admission off": { url: `${unguarded.ready.url}/v1/chat/completions`, headers: auth, body: body(stream) },
  });

  // Non-streaming.
  const plain = targets(false);
  await admin.serveOnly("bench", plain.gateway, plain["gateway, admission off"]);
  for (const name of TARGETS) await sanity(name, plain[name], false);
  const nonStream: NonStreamRow[] = [];
  for (const c of CONCURRENCIES) {
    for (const name of TARGETS) {
      if (isGateway(name)) { await admin.probe(); await admin.routesTo("bench", plain[name]); }
      process.stderr.write(`bench: non-streaming, concurrency ${c}, ${name}…\n`);
      await cannon(plain[name], c, WARMUP_SEC);
      const before = await snapshot(pids, db);
      const result = await cannon(plain[name], c, DURATION_SEC);
      nonStream.push({ concurrency: c, target: name, result, cpu: perRequest(before, await snapshot(pids, db), result.ok) });
    }
  }

  // Streaming.
  const streamed = targets(true);
  await admin.serveOnly("bench-stream", streamed.gateway, streamed["gateway, admission off"]);
  for (const name of TARGETS) await sanity(name, streamed[name], true);
  const streamRows: StreamRow[] = [];
  const measure = async (target: TargetName, mode: string, count: number, concurrency: number): Promise<StreamRow> => {
    const before = await snapshot(pids, db);
    const s = await streams(streamed[target], count, concurrency);
    return {
      target, mode, streams: s.length, ttftMs: percentiles(s.map((x) => x.ttftMs)),
      tokensPerSec: percentiles(s.map((x) => x.tokensPerSec).filter(Number.isFinite)), totalMs: percentiles(s.map((x) => x.totalMs)),
      otherLoadPct: perRequest(before, await snapshot(pids, db), s.length).otherLoadPct,
    };
  };
  for (const name of TARGETS) {
    if (isGateway(name)) { await admin.probe(); await admin.routesTo("bench-stream", streamed[name]); }
    process.stderr.write(`bench: streaming, ${name}…\n`);
    await streams(streamed[name], STREAM.warmup, 1);
    streamRows.push(await measure(name, "sequential", STREAM.sequential, 1));
    streamRows.push(await measure(name, `concurrency ${STREAM.concurrency}`, STREAM.concurrent, STREAM.concurrency));
  }

  gatewayRss.stop();
  bareRss.stop();
  const memoryKb = { gatewayPeakRss: gatewayRss.peakKb(), gatewayHwm: gatewayRss.hwmKb(), gatewayEnd: gatewayRss.nowKb(), barePeakRss: bareRss.peakKb(), bareHwm: bareRss.hwmKb() };
  const runtimeSec = (performance.now() - startedAt) / 1000;

  return report({ info, pinning, cores, nonStream, streamRows, memoryKb, runtimeSec, pids });
}

// ---- Report ----

/** Writes artifacts/bench.json and returns the markdown. */
function report(r: { info: DevInfo; pinning: string; cores: number; nonStream: NonStreamRow[]; streamRows: StreamRow[]; memoryKb: Record<string, number>; runtimeSec: number; pids: Pids }): string {
  const out: string[] = [];
  const cpu = os.cpus()[0]?.model ?? "unknown";
  out.push("# Meshgate gateway bench", "");
  out.push(`- node ${process.version}, ${os.platform()} ${os.release()}, ${r.cores} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
  out.push(`- CPU layout: ${r.pinning}`);
  out.push(`- non-streaming: POST /v1/chat/completions, max_tokens ${NON_STREAM_MAX_TOKENS}, engine ttft 0 ms and no token pacing; autocannon, ${WARMUP_SEC} s warm-up + ${DURATION_SEC} s per cell, 2xx latencies only`);
  out.push(`- streaming: max_tokens ${STREAM.maxTokens}, engine at ${STREAM.tokensPerSecond} tokens/s; fetch + reader; TTFT = until the first \`data:\` chunk with content`);
  out.push(`- gateway: auth (cached key), validation, routing, usage capture and batched metering to Postgres, all on; cron off, probe run before each gateway cell`);
  out.push("");

  const cell = (c: number, t: TargetName) => r.nonStream.find((x) => x.concurrency === c && x.target === t)!;
  out.push("## Non-streaming", "");
  out.push(table(
    ["concurrency", "target", "req/s", "p50 ms", "p99 ms", "non-2xx/errors", "workerd CPU µs/req", "Postgres / wsproxy CPU µs/req", "Postgres conns per 1k req", "core0 / core1 busy", "other load"],
    r.nonStream.map(({ concurrency, target, result, cpu: c }) => [
      concurrency, target, int(result.rps), fmt(result.latencyMs.p50), fmt(result.latencyMs.p99), `${result.non2xx}/${result.errors + result.timeouts}`,
      target === "gateway" ? int(c.gatewayUs) : target === "bare proxy" ? int(c.bareUs) : "—",
      target === "gateway" ? `${int(c.postgresUs)} / ${int(c.wsproxyUs)}` : "—",
      target === "gateway" ? int(c.pgSessionsPer1k) : "—",
      c.coreBusyPct.slice(0, 2).map((p) => `${Math.round(p)}%`).join(" / "),
      `${Math.round(c.otherLoadPct)}%`,
    ]),
  ));
  out.push("", "workerd CPU: the proxy's workerd process only. Postgres / wsproxy: the gateway's usage writes and cache refreshes (Postgres backends included). " +
    "Other load: CPU used meanwhile by processes this bench did not start, in % of one core (noise).", "");
  out.push("Gateway's added latency (difference of the percentiles) and throughput:", "");
  out.push(table(
    ["concurrency", "added p50 vs direct", "added p99 vs direct", "added p50 vs bare proxy", "added p99 vs bare proxy", "gateway req/s", "% of direct", "% of bare proxy"],
    CONCURRENCIES.map((c) => {
      const d = cell(c, "direct").result, b = cell(c, "bare proxy").result, g = cell(c, "gateway").result;
      return [c, `${signed(g.latencyMs.p50 - d.latencyMs.p50)} ms`, `${signed(g.latencyMs.p99 - d.latencyMs.p99)} ms`,
        `${signed(g.latencyMs.p50 - b.latencyMs.p50)} ms`, `${signed(g.latencyMs.p99 - b.latencyMs.p99)} ms`,
        int(g.rps), `${Math.round((100 * g.rps) / d.rps)}%`, `${Math.round((100 * g.rps) / b.rps)}%`];
    }),
  ));
  out.push("");

  const srow = (t: TargetName, mode: string) => r.streamRows.find((x) => x.target === t && x.mode === mode)!;
  const modes = [...new Set(r.streamRows.map((x) => x.mode))];
  out.push("## Streaming", "");
  out.push(table(
    ["mode", "target", "streams", "TTFT p50 ms", "TTFT p99 ms", "added TTFT p50", "added TTFT p99", "tokens/s per stream p50", "stream total p50 ms", "other load"],
    r.streamRows.map((s) => {
      const d = srow("direct", s.mode);
      const self = s.target === "direct";
      return [s.mode, s.target, s.streams, fmt(s.ttftMs.p50), fmt(s.ttftMs.p99),
        self ? "—" : `${signed(s.ttftMs.p50 - d.ttftMs.p50)} ms`, self ? "—" : `${signed(s.ttftMs.p99 - d.ttftMs.p99)} ms`,
        int(s.tokensPerSec.p50), fmt(s.totalMs.p50), `${Math.round(s.otherLoadPct)}%`];
    }),
  ));
  out.push("");

  const mb = (kb: number) => `${fmt(kb / 1024, 1)} MiB`;
  out.push("## Memory (workerd RSS, sampled every 100 ms over the whole run)", "");
  out.push(table(["process", "peak RSS (sampled)", "VmHWM", "RSS at end"], [
    ["gateway workerd", mb(r.memoryKb.gatewayPeakRss!), mb(r.memoryKb.gatewayHwm!), mb(r.memoryKb.gatewayEnd!)],
    ["bare proxy workerd", mb(r.memoryKb.barePeakRss!), mb(r.memoryKb.bareHwm!), "—"],
  ]));
  out.push("");

  const g1 = cell(1, "gateway").result.latencyMs.p50 - cell(1, "direct").result.latencyMs.p50;
  const admission32 = cell(32, "gateway").result.latencyMs.p50 - cell(32, "gateway, admission off").result.latencyMs.p50;
  const rps32 = cell(32, "gateway").result.rps;
  const ttft = modes.map((m) => ({ m, added: srow("gateway", m).ttftMs.p50 - srow("direct", m).ttftMs.p50 }));
  const met = (ok: boolean) => (ok ? "yes" : "**no**");
  const noisiest = Math.max(...r.nonStream.map((x) => x.cpu.otherLoadPct), ...r.streamRows.map((x) => x.otherLoadPct));
  if (noisiest > 10) {
    out.push(`**Warning:** other processes on this machine used up to ${Math.round(noisiest)}% of a core during a measurement ` +
      "(see \"other load\"): latencies and throughput are disturbed; rerun on a quiet machine for numbers to compare.", "");
  }
  out.push("## Goals", "");
  out.push(table(["goal", "target", "measured", "met"], [
    ["added p50 at concurrency 1", "≤ 1 ms", `${signed(g1)} ms`, met(g1 <= 1)],
    ["throughput at concurrency 32", "≥ 3,000 req/s", `${int(rps32)} req/s`, met(rps32 >= 3000)],
    ...ttft.map(({ m, added }) => [`added TTFT p50 (${m})`, "≤ 2 ms", `${signed(added)} ms`, met(added <= 2)]),
    ["admission's added p50 at concurrency 32 (gateway vs gateway with ADMISSION=off)", "≤ 1 ms", `${signed(admission32)} ms`, met(admission32 <= 1)],
  ]));
  out.push("");
  out.push(`Start-up and measurements: ${fmt(r.runtimeSec, 1)} s. JSON: artifacts/bench.json`);
  mkdirSync(path.join(ROOT, "artifacts"), { recursive: true });
  writeFileSync(path.join(ROOT, "artifacts/bench.json"), JSON.stringify({
    at: new Date().toISOString(),
    environment: { node: process.version, platform: `${os.platform()} ${os.release()}`, cores: r.cores, cpu: os.cpus()[0]?.model, pinning: r.pinning },
    settings: { warmupSec: WARMUP_SEC, durationSec: DURATION_SEC, concurrencies: CONCURRENCIES, nonStreamMaxTokens: NON_STREAM_MAX_TOKENS, stream: STREAM, engines: ENGINES },
    nonStreaming: r.nonStream, streaming: r.streamRows, memoryKb: r.memoryKb, runtimeSec: r.runtimeSec,
  }, null, 2));
  return out.join("\n");
}

await runBench("bench", main);
