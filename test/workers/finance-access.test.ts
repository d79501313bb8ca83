/**
 * Who sees what in the Finance API (workerd against real Postgres): an account's finance key sees
 * its own data only, an operator key (scope "all") every account and the provider side; and the
 * parameters it refuses.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { formatUsdc } from "../../workers/core/money/units";
import { admin, chat, sql } from "../support/workerd/gateway";
import { DAY, dateOf, eventTotals, fin, finJson, seedFinance, today, type FinanceWorld, type Json } from "../support/workerd/finance";

let world: FinanceWorld;
beforeAll(async () => {
  world = await seedFinance("access");
}, 60_000);

describe("tenant isolation", () => {
  it("an account's finance key sees its own usage, ledger and requests, never another's (404, 403)", async () => {
    const { a, b, aFinance, bFinance, aRequests, bRequests } = world;
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
    expect((await finJson<{ error: Json }>(aFinance, `/usage?account_id=${b.accountId}`, 403)).error).toMatchObject({
      type: "permission_error",
    });
    expect((await finJson<Json>(aFinance, `/usage?account_id=${a.accountId}`)).totals).toBeDefined();
    // An inference key is not a finance key, and a finance key cannot infer.
    expect((await finJson<{ error: Json }>(a.secret, "/usage", 403)).error).toMatchObject({ type: "permission_error" });
    expect((await chat(aFinance)).res.status).toBe(403);
    expect((await fin("mg-not-a-key", "/usage")).status).toBe(401);
  });

  it("an operator key sees every account, narrows to one with account_id, and sees the provider side", async () => {
    const { a, b, operator, bRequests, finProvider } = world;
    const q = `from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}`;
    const all = await finJson<{ data: Json[] }>(operator, `/usage?${q}&group_by=key`);
    expect(all.data.map((x) => x.group)).toEqual(expect.arrayContaining([a.keyId, b.keyId]));
    const onlyB = await finJson<{ totals: Json }>(operator, `/usage?${q}&account_id=${b.accountId}`);
    expect(onlyB.totals).toMatchObject(await eventTotals(b.accountId, today() - 5 * DAY, today() + DAY));
    expect(await finJson<Json>(operator, `/requests/${bRequests[0]}`)).toMatchObject({ usage: { account_id: b.accountId } });

    const earned = await sql<{ total: string }>(
      "select coalesce(sum(amount_pico), 0)::text as total from ledger_entries where account = $1 and kind in ('usage', 'adjustment')",
      [`provider:${finProvider}`],
    );
    const providers = await finJson<{ data: Json[] }>(operator, "/providers");
    expect(providers.data.find((p) => p.provider_id === finProvider)).toEqual({
      provider_id: finProvider,
      address: null,
      earned_usdc: formatUsdc(BigInt(earned[0]!.total)),
      paid_usdc: "0",
      unpaid_usdc: formatUsdc(BigInt(earned[0]!.total)),
      requests: 4,
      stake_usdc: null,
    });
    const view = await finJson<Json>(operator, `/providers/${finProvider}?from=${dateOf(today() - 5 * DAY)}`);
    expect(view).toMatchObject({ provider_id: finProvider, suspended: true, range: { requests: 4, p50_ttft_ms: 600 } });
    expect((await fin(operator, "/providers/no-such-provider")).status).toBe(404);
  });

  it("the admin API gives scope 'all' to finance keys only", async () => {
    const { a } = world;
    const res = await admin("POST", "/keys", { account_id: a.accountId, role: "inference", scope: "all" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: "scope" } });
    expect((await admin("POST", "/keys", { account_id: a.accountId, role: "finance", scope: "everything" })).status).toBe(400);
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
    const { aFinance } = world;
    const body = await finJson<{ error: Json }>(aFinance, path, 400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param });
  });
});
