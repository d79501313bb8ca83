/**
 * The Finance API's usage report in workerd against real Postgres: rollups that real traffic (plus
 * replays and a top-up) kept up to date incrementally, equal to a rebuild and to a raw aggregation
 * of usage_events; totals and groupings equal to the events; the CSV export.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { auditLedger } from "../../workers/adapters/postgres/ledger";
import { rebuildRollups } from "../../workers/adapters/postgres/usage";
import { model, sql, withDb } from "../support/workerd/gateway";
import { DAY, dateOf, eventTotals, fin, finJson, HOUR, seedFinance, today, type FinanceWorld, type Json } from "../support/workerd/finance";

let world: FinanceWorld;
beforeAll(async () => {
  world = await seedFinance("usage");
}, 60_000);

const BOUNDS = "'{25,50,100,200,400,800,1600,3200,6400}'::int[]"; // written out here, not imported: an independent check

/** An account's rollup rows, or the same figures aggregated straight from usage_events. */
const rollupRows = (accountId: string) =>
  sql(
    `
  select grain, extract(epoch from bucket)::bigint::text as bucket, key_id, model, provider_id, requests::text, failed_requests::text,
    prompt_tokens::text, completion_tokens::text, cost_pico::text, fee_pico::text, ttft_histogram::text as histogram
  from usage_rollups where account_id = $1 order by 1, 2, 3, 4, 5`,
    [accountId],
  );
const rawRows = (accountId: string) =>
  sql(
    `
  select g.grain, extract(epoch from date_trunc(g.grain, e.created_at, 'UTC'))::bigint::text as bucket, e.key_id, e.model,
    coalesce(e.provider_id, '') as provider_id, count(*)::text as requests, (count(*) filter (where e.status = 'failed'))::text as failed_requests,
    sum(e.prompt_tokens)::text as prompt_tokens, sum(e.completion_tokens)::text as completion_tokens, sum(e.cost_pico)::text as cost_pico,
    sum(e.fee_pico)::text as fee_pico,
    array[${Array.from({ length: 10 }, (_, i) => `count(*) filter (where width_bucket(e.ttft_ms, ${BOUNDS}) = ${i})`).join(", ")}]::text as histogram
  from usage_events e cross join (values ('hour'), ('day')) as g(grain) where e.account_id = $1
  group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5`,
    [accountId],
  );

describe("rollups", () => {
  it("kept incrementally equal a raw aggregation of usage_events and a rebuild, after traffic, a failure, a replay and a top-up", async () => {
    const { a } = world;
    const incremental = await rollupRows(a.accountId);
    expect(incremental.length).toBeGreaterThan(4);
    expect(incremental.some((r) => r.failed_requests === "1" && r.provider_id === "")).toBe(true);
    expect(incremental).toEqual(await rawRows(a.accountId));
    await withDb((db) => rebuildRollups(db, new Date(today() - 5 * DAY), new Date(today() + DAY)));
    expect(await rollupRows(a.accountId)).toEqual(incremental);
    // And the books those writes made still trace to their events (the top-up's adjustment included).
    expect((await withDb((db) => auditLedger(db))).problems).toEqual([]);
  });
});

describe("GET /finance/v1/usage", () => {
  it("totals equal the usage events written, whatever the grouping, for whole days and ragged ranges", async () => {
    const { a, aFinance } = world;
    const from = today() - 5 * DAY,
      to = today() + DAY;
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
    const { a, aFinance, finProvider } = world;
    const q = `from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}`;
    const byProvider = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=provider`);
    expect(byProvider.data.map((x) => x.group).sort()).toEqual(["", finProvider, "wk-a", "wk-b"]);
    const none = byProvider.data.find((x) => x.group === "")!;
    expect(none).toMatchObject({
      label: "(no provider)",
      requests: 1,
      failed_requests: 1,
      spend_usdc: "0",
      avg_price_per_mtok_usdc: null,
      p50_ttft_ms: null,
    });
    const finP = byProvider.data.find((x) => x.group === finProvider)!;
    // 4 events: 100+100+100+100 prompt, 40+40+0+40 completion; TTFTs 30, 700, 7000 (one without):
    // the median (the 1.5th of 3) lies halfway through the [400, 800) bucket.
    expect(finP).toMatchObject({ requests: 4, prompt_tokens: 400, completion_tokens: 120, p50_ttft_ms: 600 });
    const byKey = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=key`);
    expect(byKey.data).toEqual([expect.objectContaining({ group: a.keyId, label: "Finance A usage key" })]);
    const wkA = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=model&provider_id=wk-a`);
    expect(wkA.data).toEqual([expect.objectContaining({ group: model, requests: 3 })]);
    const failedOnly = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}&group_by=day&provider_id=none`);
    expect(failedOnly.data.map((x) => x.requests)).toEqual([1]);
  });

  it("exports the same rows as CSV, with a header, as an attachment", async () => {
    const { aFinance } = world;
    const q = `from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}&group_by=provider`;
    const json = await finJson<{ data: Json[] }>(aFinance, `/usage?${q}`);
    const res = await fin(aFinance, `/usage?${q}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="meshgate-usage-by-provider-.*\.csv"$/);
    const [header, ...lines] = (await res.text()).trimEnd().split("\r\n");
    const cols = header!.split(",");
    expect(cols).toEqual([
      "group",
      "label",
      "requests",
      "failed_requests",
      "prompt_tokens",
      "completion_tokens",
      "total_tokens",
      "spend_usdc",
      "fee_usdc",
      "avg_price_per_mtok_usdc",
      "p50_ttft_ms",
    ]);
    const parsed = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i]!, v])));
    expect(parsed).toEqual(json.data.map((x) => Object.fromEntries(cols.map((c) => [c, x[c] === null ? "" : String(x[c])]))));
  });
});
