/**
 * The Finance API in workerd against real Postgres: usage read from rollups that real traffic
 * (plus replays and a top-up) kept up to date incrementally, equal to a rebuild and to a raw
 * aggregation of usage_events; CSV; tenant isolation; the operator's view; pagination; validation.
 */
import { SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLedger } from "../../workers/adapters/postgres/ledger";
import { insertUsage, rebuildRollups, topUpUsage } from "../../workers/adapters/postgres/usage";
import type { UsageRecord } from "../../workers/core/metering/usage";
import { formatUsdc } from "../../workers/core/money/pricing";
import {
  admin, adminJson, BASE, call, chat, chatRequest, engine, model, newKey, PROVIDERS, registerProviders, resetNetwork, setMode, sql, withDb,
} from "./support/gateway";

type Key = Awaited<ReturnType<typeof newKey>>;
type Json = Record<string, unknown>;
const FIN_PROVIDER = "fin-p";
const FIN_MODEL = "finance-test/model"; // its own model: nothing else routes to this provider
const DAY = 86_400_000;
const HOUR = 3_600_000;

let a: Key, b: Key;
let aFinance: string, bFinance: string, operator: string;
const aRequests: string[] = [];
const bRequests: string[] = [];

const fin = (secret: string, path: string) => SELF.fetch(`${BASE}/finance/v1${path}`, { headers: { authorization: `Bearer ${secret}` } });
async function finJson<T = Json>(secret: string, path: string, status = 200): Promise<T> {
  const res = await fin(secret, path);
  const text = await res.text();
  expect(res.status, `${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}
const financeKey = async (accountId: string, scope?: "all") =>
  (await adminJson<{ secret: string }>("POST", "/keys", { account_id: accountId, role: "finance", name: scope ? "operator" : "finance", ...(scope ? { scope } : {}) }, 201)).secret;
/** "-1.25" USDC → pico, exactly (no float touches money, even in a test). */
const toPico = (usdc: string) => {
  const [whole = "0", frac = ""] = usdc.replace("-", "").split(".");
  const v = BigInt(whole) * 10n ** 12n + BigInt(frac.padEnd(12, "0"));
  return usdc.startsWith("-") ? -v : v;
};
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const today = () => Math.floor(Date.now() / DAY) * DAY;

async function usageWritten(requestId: string): Promise<void> {
  for (let i = 0; i < 100 && (await sql("select 1 from usage_events where request_id = $1", [requestId])).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A synthetic usage record (its own request id) for account A at a given time. */
const synthetic = (over: Partial<UsageRecord>): UsageRecord => ({
  requestId: `gen-fin-${crypto.randomUUID()}`, keyId: a.keyId, accountId: a.accountId, providerId: FIN_PROVIDER, model: FIN_MODEL,
  endpoint: "chat", stream: false, promptTokens: 100, completionTokens: 40, costPico: 100n * 7n + 40n * 9n, feePico: 53n,
  status: "ok", errorCode: null, receiptStatus: "none", ttftMs: 80, durationMs: 300, edge: "local", attempts: 1, createdAtMs: Date.now(), ...over,
});

beforeAll(async () => {
  await registerProviders();
  await adminJson("POST", "/providers", {
    id: FIN_PROVIDER, url: engine("wk-a").url, region: "local",
    models: [{ model: FIN_MODEL, endpoints: ["chat"], input_price: "0.000007", output_price: "0.000009", context_length: 4096 }],
  }, 201);
  await adminJson("POST", `/providers/${FIN_PROVIDER}/suspend`, { reason: "finance test data only" });
  await resetNetwork();
  a = await newKey("Finance A");
  b = await newKey("Finance B");
  [aFinance, bFinance, operator] = [await financeKey(a.accountId), await financeKey(b.accountId), await financeKey(a.accountId, "all")];

  // Real traffic through the worker: A streams and not, on both providers; B a little.
  const served = await Promise.all([
    chat(a.secret, { max_tokens: 3 }), chat(a.secret, { max_tokens: 9, stream: true }), chat(a.secret, { max_tokens: 5 }),
    chat(a.secret, { max_tokens: 4, provider: { order: [PROVIDERS[1].id] } }), chat(b.secret, { max_tokens: 6 }), chat(b.secret, { max_tokens: 2 }),
  ]);
  for (const [i, s] of served.entries()) {
    expect(s.res.status, s.text).toBe(200);
    (i < 4 ? aRequests : bRequests).push(s.res.headers.get("x-request-id")!);
  }
  // A request no provider could serve: a failed event, counted and free.
  for (const e of ["wk-a", "wk-b"]) await setMode(engine(e), { mode: "refuse" });
  const failed = await call(chatRequest(a.secret, { max_tokens: 2 }));
  expect(failed.res.status).toBeGreaterThanOrEqual(500);
  await failed.res.text();
  await failed.settled();
  await usageWritten(failed.res.headers.get("x-request-id")!);
  await resetNetwork();

  // Events on other hours and days (a day boundary among them), flushed twice: the replay adds nothing.
  const back = today() - 2 * DAY;
  const spread = [
    synthetic({ createdAtMs: back - 30 * 60_000, ttftMs: 30 }), synthetic({ createdAtMs: back + 10 * 60_000, ttftMs: 700 }),
    synthetic({ createdAtMs: back + 10 * 60_000 + 1, ttftMs: 7_000, completionTokens: 0, costPico: 700n, feePico: 35n }),
    synthetic({ createdAtMs: back + 5 * HOUR, status: "partial", ttftMs: null }),
  ];
  await withDb((db) => insertUsage(db, spread));
  await withDb((db) => insertUsage(db, [...spread, spread[0]!]));

  // A client-left request corrected to the provider's signed counts: a top-up.
  const [ev] = await sql<{ cost_pico: string; fee_pico: string; provider_id: string; prompt_tokens: number; completion_tokens: number }>(
    "select cost_pico::text, fee_pico::text, provider_id, prompt_tokens, completion_tokens from usage_events where request_id = $1", [aRequests[0]]);
  const previousCostPico = BigInt(ev!.cost_pico);
  expect(await withDb((db) => topUpUsage(db, {
    requestId: aRequests[0]!, accountId: a.accountId, providerId: ev!.provider_id, promptTokens: ev!.prompt_tokens + 2,
    completionTokens: ev!.completion_tokens + 3, costPico: previousCostPico + 1_000_000n, feePico: BigInt(ev!.fee_pico) + 50_000n,
    previousCostPico, previousFeePico: BigInt(ev!.fee_pico),
  }))).toMatchObject({ applied: true, customerPosting: { amountPico: -1_000_000n } });
}, 60_000);

const BOUNDS = "'{25,50,100,200,400,800,1600,3200,6400}'::int[]"; // written out here, not imported: an independent check

/** Account A's rollup rows, or the same figures aggregated straight from usage_events. */
const rollupRows = () => sql(`
  select grain, extract(epoch from bucket)::bigint::text as bucket, key_id, model, provider_id, requests::text, failed_requests::text,
    prompt_tokens::text, completion_tokens::text, cost_pico::text, fee_pico::text, ttft_histogram::text as histogram
  from usage_rollups where account_id = $1 order by 1, 2, 3, 4, 5`, [a.accountId]);
const rawRows = () => sql(`
  select g.grain, extract(epoch from date_trunc(g.grain, e.created_at, 'UTC'))::bigint::text as bucket, e.key_id, e.model,
    coalesce(e.provider_id, '') as provider_id, count(*)::text as requests, (count(*) filter (where e.status = 'failed'))::text as failed_requests,
    sum(e.prompt_tokens)::text as prompt_tokens, sum(e.completion_tokens)::text as completion_tokens, sum(e.cost_pico)::text as cost_pico,
    sum(e.fee_pico)::text as fee_pico,
    array[${Array.from({ length: 10 }, (_, i) => `count(*) filter (where width_bucket(e.ttft_ms, ${BOUNDS}) = ${i})`).join(", ")}]::text as histogram
  from usage_events e cross join (values ('hour'), ('day')) as g(grain) where e.account_id = $1
  group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5`, [a.accountId]);

describe("rollups", () => {
  it("kept incrementally equal a raw aggregation of usage_events and a rebuild, after traffic, a failure, a replay and a top-up", async () => {
    const incremental = await rollupRows();
    expect(incremental.length).toBeGreaterThan(4);
    expect(incremental.some((r) => r.failed_requests === "1" && r.provider_id === "")).toBe(true);
    expect(incremental).toEqual(await rawRows());
    await withDb((db) => rebuildRollups(db, new Date(today() - 5 * DAY), new Date(today() + DAY)));
    expect(await rollupRows()).toEqual(incremental);
    // And the books those writes made still trace to their events (the top-up's adjustment included).
    expect((await withDb((db) => auditLedger(db))).problems).toEqual([]);
  });
});

/** A's usage events summed in SQL, for [from, to). */
async function eventTotals(accountId: string, from: number, to: number) {
  const [t] = await sql<Record<string, string>>(`
    select count(*)::text as requests, coalesce(sum(prompt_tokens), 0)::text as prompt, coalesce(sum(completion_tokens), 0)::text as completion,
      coalesce(sum(cost_pico), 0)::text as cost, (count(*) filter (where status = 'failed'))::text as failed
    from usage_events where account_id = $1 and created_at >= $2 and created_at < $3`, [accountId, new Date(from).toISOString(), new Date(to).toISOString()]);
  const n = (k: string) => t![k] ?? "0";
  return { requests: Number(n("requests")), failed_requests: Number(n("failed")), prompt_tokens: Number(n("prompt")), completion_tokens: Number(n("completion")), spend_usdc: formatUsdc(BigInt(n("cost"))) };
}

describe("GET /finance/v1/usage", () => {
  it("totals equal the usage events written, whatever the grouping, for whole days and ragged ranges", async () => {
    const from = today() - 5 * DAY, to = today() + DAY;
    const expected = await eventTotals(a.accountId, from, to);
    expect(expected.requests).toBe(4 + 1 + 4); // served, failed, synthetic
    for (const groupBy of ["day", "hour", "model", "key", "provider"]) {
      const r = await finJson<{ data: Json[]; totals: Json }>(aFinance, `/usage?from=${dateOf(from)}&to=${dateOf(to)}&group_by=${groupBy}`);
      expect(r.totals, groupBy).toMatchObject(expected);
      const sum = (f: string) => r.data.reduce((s, x) => s + Number(x[f]), 0);
      expect([sum("requests"), sum("prompt_tokens")]).toEqual([expected.requests, expected.prompt_tokens]);
    }
    // From mid-hour: the report counts whole hours, so it starts at the top of that hour.
    const ragged = today() - 2 * DAY + 5 * HOUR + 20 * 60_000;
    const r = await finJson<{ totals: Json }>(aFinance, `/usage?from=${new Date(ragged).toISOString()}&to=${dateOf(to)}`);
    expect(r.totals).toMatchObject(await eventTotals(a.accountId, ragged - 20 * 60_000, to));
  });

  it("groups by model, key and provider with labels, prices and a median TTFT; filters narrow", async () => {
    const q = `from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}`;
    const byProvider = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=provider`);
    expect(byProvider.data.map((x) => x.group).sort()).toEqual(["", FIN_PROVIDER, "wk-a", "wk-b"]);
    const none = byProvider.data.find((x) => x.group === "")!;
    expect(none).toMatchObject({ label: "(no provider)", requests: 1, failed_requests: 1, spend_usdc: "0", avg_price_per_mtok_usdc: null, p50_ttft_ms: null });
    const finP = byProvider.data.find((x) => x.group === FIN_PROVIDER)!;
    // 4 events: 100+100+100+100 prompt, 40+40+0+40 completion; TTFTs 30, 700, 7000 (one without):
    // the median (the 1.5th of 3) lies halfway through the [400, 800) bucket.
    expect(finP).toMatchObject({ requests: 4, prompt_tokens: 400, completion_tokens: 120, p50_ttft_ms: 600 });
    const byKey = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=key`);
    expect(byKey.data).toEqual([expect.objectContaining({ group: a.keyId, label: "Finance A key" })]);
    const wkA = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=model&provider_id=wk-a`);
    expect(wkA.data).toEqual([expect.objectContaining({ group: model, requests: 3 })]);
    const failedOnly = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=day&provider_id=none`);
    expect(failedOnly.data.map((x) => x.requests)).toEqual([1]);
  });

  it("exports the same rows as CSV, with a header, as an attachment", async () => {
    const q = `from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}&group_by=provider`;
    const json = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}`);
    const res = await fin(aFinance, `/usage?${q}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="meshgate-usage-by-provider-.*\.csv"$/);
    const [header, ...lines] = (await res.text()).trimEnd().split("\r\n");
    const cols = header!.split(",");
    expect(cols).toEqual(["group", "label", "requests", "failed_requests", "prompt_tokens", "completion_tokens", "total_tokens", "spend_usdc", "fee_usdc", "avg_price_per_mtok_usdc", "p50_ttft_ms"]);
    const parsed = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i]!, v])));
    expect(parsed).toEqual(json.data.map((x) => Object.fromEntries(cols.map((c) => [c, x[c] === null ? "" : String(x[c])]))));
  });
});

describe("tenant isolation", () => {
  it("an account's finance key sees its own usage, ledger and requests, never another's (404, 403)", async () => {
    const bUsage = await finJson<{ totals: Json }>(bFinance, "/usage");
    expect(bUsage.totals).toMatchObject({ requests: 2 });
    const trace = await finJson<Json>(aFinance, `/requests/${aRequests[1]}`);
    expect(trace).toMatchObject({ request_id: aRequests[1], usage: { account_id: a.accountId, key_id: a.keyId } });

    const other = await fin(aFinance, `/requests/${bRequests[0]}`);
    const absent = await fin(aFinance, `/requests/gen-no-such-request`);
    expect([other.status, absent.status]).toEqual([404, 404]);
    expect((await other.json()) as Json).toMatchObject({ error: { type: "invalid_request_error", code: "not_found" } });
    expect(((await absent.json()) as { error: Json }).error.code).toBe("not_found");

    const ledger = await finJson<{ data: { account: string }[] }>(aFinance, "/ledger?limit=500");
    expect(ledger.data.length).toBeGreaterThan(0);
    expect(new Set(ledger.data.map((e) => e.account))).toEqual(new Set([`customer:${a.accountId}`]));

    expect((await finJson<{ error: Json }>(aFinance, "/providers", 403)).error).toMatchObject({ type: "permission_error" });
    expect((await finJson<{ error: Json }>(aFinance, `/usage?account_id=${b.accountId}`, 403)).error).toMatchObject({ type: "permission_error" });
    expect((await finJson<Json>(aFinance, `/usage?account_id=${a.accountId}`)).totals).toBeDefined();
    // An inference key is not a finance key, and a finance key cannot infer.
    expect((await finJson<{ error: Json }>(a.secret, "/usage", 403)).error).toMatchObject({ type: "permission_error" });
    expect((await chat(aFinance)).res.status).toBe(403);
    expect((await fin("mg-not-a-key", "/usage")).status).toBe(401);
  });

  it("an operator key sees every account, narrows to one with account_id, and sees the provider side", async () => {
    const q = `from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}`;
    const all = await finJson<{ data: Json[] }>(operator, `/usage?${q}&group_by=key`);
    expect(all.data.map((x) => x.group)).toEqual(expect.arrayContaining([a.keyId, b.keyId]));
    const onlyB = await finJson<{ totals: Json }>(operator, `/usage?${q}&account_id=${b.accountId}`);
    expect(onlyB.totals).toMatchObject(await eventTotals(b.accountId, today() - 5 * DAY, today() + DAY));
    expect(await finJson<Json>(operator, `/requests/${bRequests[0]}`)).toMatchObject({ usage: { account_id: b.accountId } });

    const earned = await sql<{ total: string }>(
      "select coalesce(sum(amount_pico), 0)::text as total from ledger_entries where account = $1 and kind in ('usage', 'adjustment')", [`provider:${FIN_PROVIDER}`]);
    const providers = await finJson<{ data: Json[] }>(operator, "/providers");
    expect(providers.data.find((p) => p.provider_id === FIN_PROVIDER)).toEqual({
      provider_id: FIN_PROVIDER, address: null, earned_usdc: formatUsdc(BigInt(earned[0]!.total)), paid_usdc: "0",
      unpaid_usdc: formatUsdc(BigInt(earned[0]!.total)), requests: 4, stake_usdc: null,
    });
    const view = await finJson<Json>(operator, `/providers/${FIN_PROVIDER}?from=${dateOf(today() - 5 * DAY)}`);
    expect(view).toMatchObject({ provider_id: FIN_PROVIDER, suspended: true, range: { requests: 4, p50_ttft_ms: 600 } });
    expect((await fin(operator, "/providers/no-such-provider")).status).toBe(404);
  });

  it("the admin API gives scope 'all' to finance keys only", async () => {
    const res = await admin("POST", "/keys", { account_id: a.accountId, role: "inference", scope: "all" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: "scope" } });
    expect((await admin("POST", "/keys", { account_id: a.accountId, role: "finance", scope: "everything" })).status).toBe(400);
  });
});

describe("settlements, deposits and a request's trail", () => {
  const batchId = `0x${"f1".repeat(32)}`;
  const txHash = `0x${"ab".repeat(32)}`;
  let periodId = 0;
  beforeAll(async () => {
    // A settled period holding the receipt of A's request, and its batch: what the settlement job records.
    const [p] = await sql<{ id: string }>("insert into settlement_periods (chain_id, cutoff, merkle_root, receipt_count, status, settled_at) values (31337, now(), $1, 1, 'settled', now()) returning id::text", [`0x${"cd".repeat(32)}`]);
    periodId = Number(p!.id);
    await sql(`insert into receipts (request_id, provider_id, signer, model, prompt_tokens, completion_tokens, input_price, output_price, response_hash, signed_at_ms, digest, signature, source, status, period_id)
      values ($1, 'wk-a', $2, $3, 1, 1, 1, 1, $4, 0, $5, '0x', 'inline', 'verified', $6)`, [aRequests[2], `0x${"00".repeat(20)}`, model, `0x${"00".repeat(32)}`, `0x${"ee".repeat(32)}`, periodId]);
    await sql(`insert into settlement_batches (id, period_id, part, payouts, fee_base, total_base, status, tx_hash, block_number, settled_at)
      values ($1, $2, 0, $3::jsonb, 5, 105, 'settled', $4, 42, now())`, [batchId, periodId, JSON.stringify([{ providerId: FIN_PROVIDER, address: `0x${"11".repeat(20)}`, amountBase: "100" }]), txHash]);
    for (let i = 0; i < 3; i++) {
      await sql(`insert into deposits (chain_id, tx_hash, log_index, block_number, block_hash, account, account_id, from_address, amount_base, status)
        values (31337, $1, $2, $3, '0x', '0x', $4, '0x', 2500000, 'credited')`, [`0x${String(i).repeat(64)}`, i, 100 + i, a.accountId]);
    }
  });
  afterAll(async () => {
    await sql("delete from settlement_batches where id = $1", [batchId]);
    await sql("delete from receipts where request_id = $1", [aRequests[2]]);
    await sql("delete from settlement_periods where id = $1", [periodId]);
    await sql("delete from deposits where account_id = $1", [a.accountId]);
  });

  it("shows a batch to the accounts whose requests it settled, with its tx hash; confirmations unknown without a chain", async () => {
    const mine = await finJson<{ data: Json[] }>(aFinance, "/settlements");
    expect(mine.data).toEqual([expect.objectContaining({
      batch_id: batchId, period_id: periodId, total_usdc: "0.000105", fee_usdc: "0.000005", status: "settled", tx_hash: txHash, block_number: "42",
      payouts: [{ provider_id: FIN_PROVIDER, address: `0x${"11".repeat(20)}`, amount_usdc: "0.0001" }], confirmations: null, explorer_url: null,
    })]);
    expect((await finJson<{ data: Json[] }>(bFinance, "/settlements")).data).toEqual([]);
    expect((await finJson<{ data: Json[] }>(operator, "/settlements")).data.map((x) => x.batch_id)).toContain(batchId);

    const trace = await finJson<{ ledger: { amount_usdc: string }[]; period: Json; batches: Json[]; receipt: Json }>(aFinance, `/requests/${aRequests[2]}`);
    expect(trace.receipt).toMatchObject({ provider_id: "wk-a", period_id: periodId });
    expect(trace.period).toMatchObject({ id: periodId, status: "settled" });
    expect(trace.batches.map((x) => x.tx_hash)).toEqual([txHash]);
    // The request's transaction balances: customer debit = provider credit + fee.
    expect(trace.ledger.length).toBe(3);
    expect(trace.ledger.reduce((s, e) => s + toPico(e.amount_usdc), 0n)).toBe(0n);
    const overview = await finJson<{ payouts: Json[] }>(operator, `/providers/${FIN_PROVIDER}`);
    expect(overview.payouts).toEqual([expect.objectContaining({ batch_id: batchId, amount_usdc: "0.0001", tx_hash: txHash })]);
  });

  it("pages deposits and ledger postings by cursor, newest first, without gaps or repeats", async () => {
    const first = await finJson<{ data: Json[]; next_before: string }>(aFinance, "/deposits?limit=2");
    expect(first.data.map((d) => d.block_number)).toEqual(["102", "101"]);
    expect(first.data[0]).toMatchObject({ amount_usdc: "2.5", status: "credited", confirmations: null });
    const second = await finJson<{ data: Json[]; next_before: string | null }>(aFinance, `/deposits?limit=2&before=${first.next_before}`);
    expect(second.data.map((d) => d.block_number)).toEqual(["100"]);
    expect(second.next_before).toBeNull();
    expect((await finJson<{ data: Json[] }>(bFinance, "/deposits")).data).toEqual([]);

    const expected = await sql<{ entry_id: string }>("select id::text as entry_id from ledger_entries where account = $1 order by id desc", [`customer:${a.accountId}`]);
    const seen: number[] = [];
    let before: number | null = null;
    do {
      const page: { data: { id: number }[]; next_before: number | null } = await finJson(aFinance, `/ledger?limit=2${before ? `&before=${before}` : ""}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((e) => e.id));
      before = page.next_before;
    } while (before !== null);
    expect(seen).toEqual(expected.map((e) => Number(e.entry_id)));
    const grants = await finJson<{ data: Json[] }>(aFinance, "/ledger?kind=grant");
    expect(grants.data).toEqual([expect.objectContaining({ kind: "grant", amount_usdc: "100" })]);
  });

  it("summarises balance, spend, burn rate and the top keys", async () => {
    const s = await finJson<{ balance_usdc: string; spend_7d_usdc: string; top_keys: Json[]; runway_days: number }>(aFinance, "/summary");
    const [bal] = await sql<{ b: string }>("select sum(amount_pico)::text as b from ledger_entries where account = $1", [`customer:${a.accountId}`]);
    expect(s.balance_usdc).toBe(formatUsdc(BigInt(bal!.b)));
    expect(s.top_keys).toEqual([expect.objectContaining({ key_id: a.keyId, requests: 9 })]);
    expect(s.runway_days).toBeGreaterThan(0);
    const series = await finJson<{ data: Json[] }>(aFinance, `/series?from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}`);
    expect(series.data.reduce((n, p) => n + Number(p.requests), 0)).toBe(9);
    expect(new Set(series.data.map((p) => p.model))).toEqual(new Set([model, FIN_MODEL]));
  });
});

describe("validation", () => {
  it.each([
    ["/usage?from=yesterday", "from"],
    ["/usage?from=2026-02-31", "from"],
    ["/usage?from=2026-04-02&to=2026-04-01", "from"],
    ["/usage?from=2024-01-01&to=2026-01-01", "to"],
    ["/usage?group_by=hour&from=2026-01-01&to=2026-03-01", "to"],
    ["/usage?group_by=week", "group_by"],
    ["/usage?key_id=not-a-uuid", "key_id"],
    ["/usage?format=xlsx", "format"],
    ["/usage?frm=2026-04-01", "frm"],
    ["/ledger?limit=0", "limit"],
    ["/ledger?limit=abc", "limit"],
    ["/ledger?before=-3", "before"],
    ["/ledger?kind=bogus", "kind"],
    ["/deposits?before=12", "before"],
    ["/series?grain=minute", "grain"],
    ["/summary?account_id=nope", "account_id"],
  ])("%s → 400 on '%s'", async (path, param) => {
    const body = await finJson<{ error: Json }>(aFinance, path, 400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param });
  });
});
