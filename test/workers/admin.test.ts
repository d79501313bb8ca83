/** The admin API in workerd against real Postgres: seeding, key storage, revocation, suspension, the probe job. */
import { SELF } from "cloudflare:test";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  admin,
  adminJson,
  BASE,
  chat,
  engine,
  engineRequests,
  env,
  model,
  newKey,
  registerProviders,
  resetNetwork,
  setMode,
  sha256Hex,
  sql,
  until,
} from "../support/workerd/gateway";

beforeAll(registerProviders);
beforeEach(resetNetwork);

describe("seeding through the admin API", () => {
  it("shows a key's secret once and stores only its SHA-256", async () => {
    const account = await adminJson<{ id: string; name: string }>("POST", "/accounts", { name: "Seeding Co" }, 201);
    expect(account).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: "Seeding Co" });

    const created = await adminJson<Record<string, unknown>>(
      "POST",
      "/keys",
      { account_id: account.id, name: "ci", budget_usdc: "12.5" },
      201,
    );
    const secret = String(created.secret);
    const hash = await sha256Hex(secret);
    expect(secret).toMatch(/^mg-[0-9A-Za-z]{40}$/);
    expect(created).toMatchObject({ accountId: account.id, role: "inference", prefix: secret.slice(0, 9), budgetPico: "12500000000000" });
    expect(JSON.stringify(created)).not.toContain(hash);

    // The listing never shows the secret (beyond the display prefix) or its hash.
    const listed = await (await admin("GET", `/keys?account_id=${account.id}`)).text();
    expect(JSON.parse(listed)).toMatchObject({ data: [{ id: created.id, prefix: secret.slice(0, 9) }] });
    expect(listed).not.toContain(secret.slice(9));
    expect(listed).not.toContain(hash);

    // In Postgres: the hash, and nothing of the secret but the display prefix.
    const rows = await sql("select * from api_keys where id = $1", [created.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.secret_hash).toBe(hash);
    expect(JSON.stringify(rows[0])).not.toContain(secret.slice(9));

    // The secret authenticates; another secret with the same prefix does not.
    const models = (bearer: string) => SELF.fetch(`${BASE}/v1/models`, { headers: { authorization: `Bearer ${bearer}` } });
    expect((await models(secret)).status).toBe(200);
    expect((await models(`${secret.slice(0, 9)}${"x".repeat(34)}`)).status).toBe(401);
  });

  it("registers providers with exact prices (micro-USDC per million tokens) and rejects malformed ones", async () => {
    const { data } = await adminJson<{ data: Record<string, unknown>[] }>("GET", "/providers");
    expect(data.find((p) => p.id === "wk-a")).toMatchObject({
      url: engine("wk-a").url,
      suspended: false,
      models: [{ model, endpoints: ["chat", "completions"], inputPrice: "100000", outputPrice: "200000", contextLength: 8192 }],
    });
    expect(data.find((p) => p.id === "wk-b")).toMatchObject({ models: [{ inputPrice: "300000", outputPrice: "600000" }] });
    const rows = await sql<{ input_price: string; output_price: string }>(
      "select input_price, output_price from provider_models where provider_id = 'wk-b'",
    );
    expect(rows).toEqual([{ input_price: "300000", output_price: "600000" }]);

    for (const price of ["-1", "0.1234567", "1e-3"]) {
      const res = await admin("POST", "/providers", {
        id: "wk-bad",
        url: engine("wk-a").url,
        models: [{ model, input_price: price, output_price: "1" }],
      });
      expect(res.status, `price ${price}`).toBe(400);
    }
    expect(await sql("select id from providers where id = 'wk-bad'")).toEqual([]);
  });

  it("refuses the admin API without the admin token", async () => {
    const res = await SELF.fetch(`${BASE}/admin/v1/accounts`, { headers: { authorization: "Bearer not-the-admin-token" } });
    expect(res.status).toBe(401);
    expect(env.ADMIN_TOKEN.length).toBeGreaterThanOrEqual(16);
  });
});

describe("revoking a key", () => {
  it("refuses a revoked key at once, though the isolate had it cached", async () => {
    const k = await newKey("Revoker");
    const models = () => SELF.fetch(`${BASE}/v1/models`, { headers: { authorization: `Bearer ${k.secret}` } });
    expect((await models()).status).toBe(200);
    expect((await models()).status).toBe(200); // served from the isolate's key cache

    expect(await adminJson("DELETE", `/keys/${k.keyId}`)).toEqual({ id: k.keyId, revoked: true });

    const after = await models();
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ error: { code: "invalid_api_key" } });
    expect((await chat(k.secret)).res.status).toBe(401);
    const [row] = await sql<{ revoked_at: string | null }>("select revoked_at from api_keys where id = $1", [k.keyId]);
    expect(row?.revoked_at).not.toBeNull();
    expect((await admin("DELETE", `/keys/${crypto.randomUUID()}`)).status).toBe(404);
  });
});

describe("suspending a provider", () => {
  it("stops routing to it within the route cache TTL, and routes to it again on resume", async () => {
    const k = await newKey("Suspender");
    const servedBy = async () => {
      const { res } = await chat(k.secret);
      expect(res.status).toBe(200);
      return res.headers.get("x-meshgate-provider");
    };
    expect(await servedBy()).toBe("wk-a"); // the cheaper one

    await adminJson("POST", "/providers/wk-a/suspend", { reason: "maintenance" });
    const routeCacheMs = Number(env.ROUTE_CACHE_MS);
    await until("wk-b serves once wk-a is suspended", async () => (await servedBy()) === "wk-b", routeCacheMs + 5_000); // each call waits for its usage row (a flush window)
    const a0 = await engineRequests(engine("wk-a"));
    for (let i = 0; i < 3; i++) expect(await servedBy()).toBe("wk-b");
    await new Promise((r) => setTimeout(r, routeCacheMs + 50)); // past a refresh: still suspended
    expect(await servedBy()).toBe("wk-b");
    expect(await engineRequests(engine("wk-a"))).toBe(a0); // nothing reached it
    const listed = await adminJson<{ data: Record<string, unknown>[] }>("GET", "/providers");
    expect(listed.data.find((p) => p.id === "wk-a")).toMatchObject({ suspended: true, suspendedReason: "maintenance" });

    await adminJson("POST", "/providers/wk-a/resume");
    await until("wk-a serves again once resumed", async () => (await servedBy()) === "wk-a", routeCacheMs + 5_000);
  });
});

describe("the probe job", () => {
  afterEach(() => setMode(engine("wk-b"), { mode: "ok" }));

  it("reports every provider, and one whose engine refuses connections as not ok (its heartbeat not refreshed)", async () => {
    const ok = await adminJson<{ data: Record<string, unknown>[] }>("POST", "/jobs/probe/run");
    // Other files share this database and may have registered providers of their own.
    for (const id of ["wk-a", "wk-b"]) {
      expect(ok.data.find((r) => r.providerId === id)).toMatchObject({ model, ok: true, error: null, ttftMs: expect.any(Number) });
    }

    await sql("update providers set last_heartbeat_at = now() - interval '1 hour'");
    await setMode(engine("wk-b"), { mode: "refuse" });
    const refused = await adminJson<{ data: Record<string, unknown>[] }>("POST", "/jobs/probe/run");
    expect(refused.data.find((r) => r.providerId === "wk-a")).toMatchObject({ ok: true });
    expect(refused.data.find((r) => r.providerId === "wk-b")).toMatchObject({
      ok: false,
      ttftMs: null,
      error: expect.stringMatching(/connection|reset|closed|refused/i),
    });

    const beats = await sql<{ id: string; fresh: boolean }>(
      "select id, last_heartbeat_at > now() - interval '1 minute' as fresh from providers where id in ('wk-a', 'wk-b') order by id",
    );
    expect(beats).toEqual([
      { id: "wk-a", fresh: true },
      { id: "wk-b", fresh: false },
    ]);
  });
});
