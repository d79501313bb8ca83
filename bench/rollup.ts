/**
 * `npm run bench` (rollups): the Finance API's usage report over 1,000,000 usage events.
 *
 *  - Seeds 1M usage events over 90 days (20 keys in 4 accounts, 5 models, 3 providers, 2% failed)
 *    with one `generate_series` insert, then fills usage_rollups with `rebuildRollups` (both timed).
 *  - Times `GET /finance/v1/usage?group_by=day|model|key` over 30 and 90 days through the worker
 *    (workerd, the Neon driver through the local WebSocket proxy: a fresh database session per
 *    request, as in production), against the same answer computed by a raw aggregation over
 *    usage_events (node-postgres straight to Postgres: the direct baseline), and the rollup query
 *    alone (same client), to separate the worker's overhead from the query's.
 *  - Checks that every answer's totals equal the raw aggregation's.
 *
 * Knobs (env): BENCH_ROLLUP_EVENTS (1000000), BENCH_ROLLUP_CALLS (50).
 * Markdown to stdout; JSON to artifacts/bench-rollup.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { openNodeDb } from "../db/node";

import { startNetwork } from "../scripts/lib/network";
import { freePort } from "../scripts/lib/ports";
import { rebuildRollups } from "../workers/adapters/postgres/rollups";
import { usageReport, type UsageGroup } from "../workers/adapters/postgres/finance";
import { cleanups, log, runBench } from "./lib/harness";
import { percentiles, type Percentiles } from "./lib/load";
import { fmt, int, table } from "./lib/table";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(ROOT);

const EVENTS = Number(process.env.BENCH_ROLLUP_EVENTS ?? 1_000_000);
const CALLS = Number(process.env.BENCH_ROLLUP_CALLS ?? 50);
const WARMUP = 5;
const DAYS = 90;
const DAY_MS = 86_400_000;
const TARGET_MS = 200;
const MODELS = ["bench/llama-8b", "bench/llama-70b", "bench/qwen-32b", "bench/mistral-7b", "bench/embed-1"];
const PROVIDERS = ["bench-p1", "bench-p2", "bench-p3"];

type Timed = { ms: Percentiles; totals: { requests: number; costPico: bigint } };

async function timeIt(calls: number, fn: () => Promise<{ requests: number; costPico: bigint }>): Promise<Timed> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const ms: number[] = [];
  let totals = { requests: 0, costPico: 0n };
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    totals = await fn();
    ms.push(performance.now() - t0);
  }
  return { ms: percentiles(ms), totals };
}

async function main(): Promise<string> {
  const began = performance.now();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "meshgate-bench-rollup-"));
  cleanups.push(async () => rmSync(stateDir, { recursive: true, force: true }));
  const net = await startNetwork({
    stateDir,
    persistent: false,
    gatewayPort: await freePort(),
    engines: [],
    agents: false,
    chain: false,
    cronEveryMs: 0,
    log,
  });
  cleanups.push(net.stop);
  const { info } = net;
  const { db, query, close } = openNodeDb(info.databaseUrl);
  cleanups.push(close);
  const q = async <R = Record<string, string>>(text: string, params: unknown[] = []) => query<R>(text, params);

  // ---- Seed: the rows usage events reference, then the events, in one statement ----
  const accounts = (
    await q<{ id: string }>(`insert into accounts (name) select 'bench customer ' || i from generate_series(1, 4) i returning id`)
  ).map((r) => r.id);
  const keyRows = await q<{ id: string; account_id: string }>(
    `
    insert into api_keys (account_id, name, prefix, secret_hash, role)
    select ($1::uuid[])[1 + (i - 1) / 5], 'bench key ' || i, 'mg-bench' || i, md5('bench-key-' || i || random()), 'inference' from generate_series(1, 20) i
    returning id, account_id`,
    [accounts],
  );
  const keys = keyRows.map((r) => r.id);
  const keyAccounts = keyRows.map((r) => r.account_id);
  await q(`insert into providers (id, url, suspended) select unnest($1::text[]), 'http://127.0.0.1:9/', true`, [PROVIDERS]);
  const now = Date.now();
  const seedStart = performance.now();
  // Every key uses every model on every provider (300 combinations: the most rollup rows this shape
  // can make); prices rise by provider; TTFT 20–1,520 ms; every 50th request failed (no provider, free).
  await q(
    `
    insert into usage_events (request_id, key_id, account_id, provider_id, model, endpoint, stream, prompt_tokens, completion_tokens,
      cost_pico, fee_pico, status, receipt_status, ttft_ms, duration_ms, edge, attempts, created_at)
    select 'bench-' || g, ($1::uuid[])[1 + g % 20], ($2::uuid[])[1 + g % 20], case when failed then null else ($3::text[])[1 + p] end,
      ($4::text[])[1 + (g / 20) % 5], 'chat', false, tokens_in, tokens_out, cost, cost * 500 / 10000,
      case when failed then 'failed' else 'ok' end, 'none', case when failed then null else 20 + (g * 31) % 1500 end,
      200 + (g * 17) % 4000, 'local', 1, $5::timestamptz - g * ($6::bigint * interval '1 millisecond')
    from generate_series(1, $7::int) g,
      lateral (select g % 50 = 0 as failed, (g / 100) % 3 as p) f,
      lateral (select case when failed then 0 else 50 + (g * 37) % 2000 end as tokens_in, case when failed then 0 else 10 + (g * 53) % 500 end as tokens_out) t,
      lateral (select (tokens_in * (100000 + p * 50000) + tokens_out * (200000 + p * 100000))::bigint as cost) c`,
    [keys, keyAccounts, PROVIDERS, MODELS, new Date(now).toISOString(), Math.floor((DAYS * DAY_MS) / EVENTS), EVENTS],
  );
  await q("analyze usage_events");
  const seedSec = (performance.now() - seedStart) / 1000;

  const rebuildStart = performance.now();
  const { rows: rollupRows } = await rebuildRollups(db);
  const rebuildSec = (performance.now() - rebuildStart) / 1000;
  await q("analyze usage_rollups");
  const [sizes] =
    await q(`select pg_size_pretty(pg_total_relation_size('usage_events')) as events, pg_size_pretty(pg_total_relation_size('usage_rollups')) as rollups,
    (select count(*) from usage_rollups where grain = 'day')::text as day_rows, (select count(*) from usage_rollups where grain = 'hour')::text as hour_rows`);

  // ---- Keys: an operator's (every account) and one customer's finance key ----
  const newKey = async (body: Record<string, unknown>) => {
    const res = await fetch(`${info.gatewayURL}/admin/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${info.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`creating a key: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { secret: string }).secret;
  };
  const operatorKey = await newKey({ account_id: info.accountId, role: "finance", scope: "all", name: "bench operator" });
  const customerKey = await newKey({ account_id: accounts[0], role: "finance", name: "bench customer finance" });

  const endOfToday = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  const rawGroup: Record<string, string> = {
    day: "to_char(date_trunc('day', e.created_at, 'UTC'), 'YYYY-MM-DD')",
    model: "e.model",
    key: "k.name",
  };
  const cases: { scope: "all" | "account"; days: number; group: UsageGroup }[] = [];
  for (const days of [30, 90]) for (const group of ["day", "model", "key"] as const) cases.push({ scope: "all", days, group });
  cases.push({ scope: "account", days: 90, group: "day" });

  const results = [];
  for (const c of cases) {
    const from = new Date(endOfToday - c.days * DAY_MS),
      to = new Date(endOfToday);
    const secret = c.scope === "all" ? operatorKey : customerKey;
    const url = `${info.gatewayURL}/finance/v1/usage?from=${from.toISOString().slice(0, 10)}&to=${to.toISOString().slice(0, 10)}&group_by=${c.group}`;
    const endpoint = await timeIt(CALLS, async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${secret}` } });
      const body = (await res.json()) as { totals: { requests: number; spend_usdc: string } };
      if (res.status !== 200) throw new Error(`${url} → ${res.status}: ${JSON.stringify(body)}`);
      const [whole, frac = ""] = body.totals.spend_usdc.split(".");
      return { requests: body.totals.requests, costPico: BigInt(whole!) * 10n ** 12n + BigInt(frac.padEnd(12, "0")) };
    });
    const scope = c.scope === "all" ? { kind: "all" as const } : { kind: "account" as const, accountId: accounts[0]! };
    const direct = await timeIt(CALLS, async () => {
      const rows = await usageReport(db, scope, { from, to, groupBy: c.group });
      return { requests: rows.reduce((s, r) => s + r.requests, 0), costPico: rows.reduce((s, r) => s + r.costPico, 0n) };
    });
    // The raw answer: the same groups and figures, the median TTFT exact, from every event in range.
    const raw = await timeIt(CALLS, async () => {
      const rows = await q(
        `
        select ${rawGroup[c.group]} as grp, count(*)::text as requests, (count(*) filter (where e.status = 'failed'))::text as failed,
          sum(e.prompt_tokens)::text as prompt, sum(e.completion_tokens)::text as completion, sum(e.cost_pico)::text as cost, sum(e.fee_pico)::text as fee,
          percentile_cont(0.5) within group (order by e.ttft_ms) as p50
        from usage_events e ${c.group === "key" ? "join api_keys k on k.id = e.key_id" : ""}
        where e.created_at >= $1 and e.created_at < $2 ${c.scope === "account" ? "and e.account_id = $3" : ""}
        group by 1`,
        [from.toISOString(), to.toISOString(), ...(c.scope === "account" ? [accounts[0]] : [])],
      );
      return { requests: rows.reduce((s, r) => s + Number(r.requests), 0), costPico: rows.reduce((s, r) => s + BigInt(r.cost!), 0n) };
    });
    for (const [name, t] of [
      ["endpoint", endpoint],
      ["rollup query", direct],
    ] as const) {
      if (t.totals.requests !== raw.totals.requests || t.totals.costPico !== raw.totals.costPico) {
        throw new Error(
          `${name} ${c.scope}/${c.group}/${c.days}d: ${t.totals.requests} requests, ${t.totals.costPico} pico; raw: ${raw.totals.requests}, ${raw.totals.costPico}`,
        );
      }
    }
    results.push({ ...c, events: raw.totals.requests, endpoint: endpoint.ms, direct: direct.ms, raw: raw.ms });
    log(`${c.scope} ${c.group} ${c.days}d: endpoint p50 ${fmt(endpoint.ms.p50)} ms, raw p50 ${fmt(raw.ms.p50)} ms`);
  }

  // The floor under every endpoint figure: one indexed lookup in a fresh database session (the worker opens one per request).
  const floor = await timeIt(CALLS, async () => {
    const res = await fetch(`${info.gatewayURL}/finance/v1/requests/bench-absent`, { headers: { authorization: `Bearer ${operatorKey}` } });
    if (res.status !== 404) throw new Error(`absent request → ${res.status}`);
    await res.text();
    return { requests: 0, costPico: 0n };
  });

  const out: string[] = [];
  out.push(`## Finance usage report over ${int(EVENTS)} usage events (${DAYS} days, 20 keys in 4 accounts, 5 models, 3 providers)`, "");
  out.push(
    table(
      ["setup step", "time", "result"],
      [
        [`seed ${int(EVENTS)} usage events (generate_series + analyze)`, `${fmt(seedSec, 1)} s`, `usage_events ${sizes!.events}`],
        [
          "rebuildRollups (one aggregation: hour rows, day rows from them)",
          `${fmt(rebuildSec, 1)} s`,
          `${int(rollupRows)} rows (${int(Number(sizes!.day_rows))} day, ${int(Number(sizes!.hour_rows))} hour), ${sizes!.rollups}`,
        ],
      ],
    ),
    "",
  );
  out.push(
    `${CALLS} sequential calls each after ${WARMUP} warm-up calls; ms. *endpoint*: GET /finance/v1/usage through the worker (rollups);`,
    "*rollup query*: the adapter's query from Node, no worker; *raw*: the same report aggregated from usage_events (exact median TTFT). Totals checked equal.",
    "",
  );
  out.push(
    table(
      [
        "scope",
        "group_by",
        "days",
        "events in range",
        "endpoint p50",
        "endpoint p99",
        "rollup query p50",
        "raw p50",
        "raw p99",
        "raw / endpoint (p50)",
        `< ${TARGET_MS} ms`,
      ],
      results.map((r) => [
        r.scope === "all" ? "operator (all)" : "one account",
        r.group,
        r.days,
        int(r.events),
        fmt(r.endpoint.p50, 1),
        fmt(r.endpoint.p99, 1),
        fmt(r.direct.p50, 1),
        fmt(r.raw.p50, 1),
        fmt(r.raw.p99, 1),
        `${fmt(r.raw.p50 / r.endpoint.p50, 1)}×`,
        r.endpoint.p99 < TARGET_MS ? "yes (p99)" : r.endpoint.p50 < TARGET_MS ? "p50 only" : "no",
      ]),
    ),
    "",
  );
  out.push(
    `Floor: GET /finance/v1/requests/<absent> (one indexed lookup in the worker's per-request database session) p50 ${fmt(floor.ms.p50, 1)} ms, p99 ${fmt(floor.ms.p99, 1)} ms.`,
    "",
  );
  mkdirSync(path.join(ROOT, "artifacts"), { recursive: true });
  writeFileSync(
    path.join(ROOT, "artifacts/bench-rollup.json"),
    JSON.stringify(
      {
        events: EVENTS,
        calls: CALLS,
        floorMs: floor.ms,
        seedSec,
        rebuildSec,
        rollupRows,
        sizes,
        results,
        runtimeSec: (performance.now() - began) / 1000,
      },
      null,
      2,
    ),
  );
  out.push("JSON: artifacts/bench-rollup.json");
  return out.join("\n");
}

void runBench("bench/rollup.ts", main);
