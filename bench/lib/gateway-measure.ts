/** What the gateway bench measures besides latency: CPU per request of each process, Postgres sessions, workerd RSS. */
import { performance } from "node:perf_hooks";
import type pg from "pg";
import type { CannonResult, Percentiles, Target } from "./load";
import type { TargetName } from "./gateway-settings";
import type { StatementTotals } from "./pg-statements";
import { coreBusy, coreTimes, cpuMs, machineCpuMs, memory, postgresCpuMs, treeCpuMs } from "./procfs";

export interface Pids {
  gatewayWorkerd: number[];
  gatewayHost: number;
  bareWorkerd: number[];
  bareHost: number;
  engines: number[];
  postmaster: number | null;
  networkHost: number;
}

export interface CpuSnapshot {
  atMs: number;
  gateway: number;
  bare: number;
  engine: number;
  pg: number;
  ws: number;
  mine: number;
  machine: number;
  cores: ReturnType<typeof coreTimes>;
  pgSessions: number;
}
export async function snapshot(p: Pids, db: pg.Client): Promise<CpuSnapshot> {
  const pgSessions = Number(
    (await db.query<{ s: string }>("select sessions::text as s from pg_stat_database where datname = current_database()")).rows[0]?.s ??
      Number.NaN,
  );
  return {
    atMs: performance.now(),
    gateway: cpuMs(p.gatewayWorkerd),
    bare: cpuMs(p.bareWorkerd),
    engine: cpuMs(p.engines),
    // The usage writes: Postgres and the WebSocket proxy in front of it (in the network host).
    pg: p.postmaster ? postgresCpuMs(p.postmaster) : Number.NaN,
    ws: cpuMs([p.networkHost]),
    // Everything this bench started, to tell other load on the machine apart.
    mine: treeCpuMs(process.pid),
    machine: machineCpuMs(),
    cores: coreTimes(),
    pgSessions,
  };
}

export interface CpuPerRequest {
  gatewayUs: number;
  bareUs: number;
  engineUs: number;
  postgresUs: number;
  wsproxyUs: number;
  coreBusyPct: number[];
  /** CPU used by processes this bench did not start, in % of one core: noise. */
  otherLoadPct: number;
  /** New Postgres sessions (connections) per 1,000 requests; the bench's own client stays connected. */
  pgSessionsPer1k: number;
}
export function perRequest(a: CpuSnapshot, b: CpuSnapshot, requests: number): CpuPerRequest {
  const us = (x: number, y: number) => (requests > 0 ? ((y - x) * 1000) / requests : Number.NaN);
  return {
    gatewayUs: us(a.gateway, b.gateway),
    bareUs: us(a.bare, b.bare),
    engineUs: us(a.engine, b.engine),
    postgresUs: us(a.pg, b.pg),
    wsproxyUs: us(a.ws, b.ws),
    coreBusyPct: coreBusy(a.cores, b.cores),
    otherLoadPct: Math.max(0, (100 * (b.machine - a.machine - (b.mine - a.mine))) / (b.atMs - a.atMs)),
    pgSessionsPer1k: requests > 0 ? (1000 * (b.pgSessions - a.pgSessions)) / requests : Number.NaN,
  };
}

export interface NonStreamRow {
  concurrency: number;
  target: TargetName;
  result: CannonResult;
  cpu: CpuPerRequest;
  /** Statements every client sent to Postgres meanwhile (gateway targets, with pg_stat_statements). */
  pg?: StatementTotals | null;
}
export interface StreamRow {
  target: TargetName;
  mode: string;
  streams: number;
  ttftMs: Percentiles;
  tokensPerSec: Percentiles;
  totalMs: Percentiles;
  otherLoadPct: number;
}

/** Peak RSS of the workerd processes, sampled every 100 ms, plus the kernel's high-water mark. */
export function rssSampler(pidsOf: () => number[]) {
  let peakKb = 0;
  const sample = () => {
    let kb = 0;
    for (const pid of pidsOf()) kb += memory(pid)?.rssKb ?? 0;
    peakKb = Math.max(peakKb, kb);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
    },
    peakKb: () => peakKb,
    hwmKb: () => pidsOf().reduce((kb, pid) => kb + (memory(pid)?.hwmKb ?? 0), 0),
    nowKb: () => pidsOf().reduce((kb, pid) => kb + (memory(pid)?.rssKb ?? 0), 0),
  };
}

export async function sanity(name: string, t: Target, stream: boolean) {
  const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
  const text = await res.text();
  if (!res.ok || (stream ? !text.includes("data:") : !text.includes('"choices"')))
    throw new Error(`${name}: sanity request answered ${res.status}: ${text.slice(0, 300)}`);
}
