/**
 * Provider registration. With nothing on its allow-list (production) the gateway
 * refuses endpoints it must never call (SSRF), whoever signs them, and stores nothing. And an
 * endpoint is registered only by the wallet its agent signs the gateway's challenge with, once:
 * another wallet cannot take it over under a new id.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import worker from "../../workers/index";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { challengePayload } from "../../workers/core/protocol/endpoint-challenge";
import { registerProvider } from "../../workers/adapters/postgres/registry";
import { BASE, env, newKey, sql, withDb } from "../support/workerd/gateway";
import { stubAgents, type AgentStubs } from "../support/workerd/agent-stub";

/** The worker as deployed: no private endpoint is on its allow-list. */
const production = { ...env, PROVIDER_URL_ALLOWLIST: "" } as unknown as typeof env;
const CHAIN = Number(env.CHAIN_ID ?? 31337);
type ErrorBody = { id?: string; status?: string; error?: { param: string; code: string; message: string; type: string } };

const newWallet = () => privateKeyToAccount(generatePrivateKey());
const newId = () => `reg-${crypto.randomUUID().slice(0, 8)}`;

async function register(
  url: string,
  account: PrivateKeyAccount = newWallet(),
  id = newId(),
): Promise<{ status: number; body: ErrorBody; id: string }> {
  const payload = {
    id,
    address: account.address,
    url,
    region: "eu",
    gpu: null,
    max_concurrency: 4,
    timestamp: Date.now(),
    // A model of its own, so that an accepted registration changes nothing elsewhere.
    models: [{ model: `registration-test/${id}`, endpoints: ["chat"], input_price: "0.10", output_price: "0.20", context_length: 4096 }],
  };
  const signature = await signProviderMessage(account, CHAIN, "register", payload);
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/providers/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payload, signature }),
    }),
    production,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as ErrorBody, id };
}

const rows = (prefix = "reg-") =>
  sql<{ id: string; url: string; endpoint: string | null }>("select id, url, endpoint from providers where id like $1 order by id", [
    `${prefix}%`,
  ]);

let stubs: AgentStubs | null = null;
afterEach(async () => {
  stubs?.restore();
  stubs = null;
  // Gone again, so that the other files see only their own providers.
  await sql("delete from provider_models where provider_id like 'reg-%'");
  await sql("delete from providers where id like 'reg-%'");
});

describe("registration in production mode", () => {
  const refused = [
    "http://203.0.113.7:8080", // plain http
    "https://127.0.0.1:8443",
    "https://localhost:8443",
    "https://10.1.2.3",
    "https://192.168.0.20",
    "https://[::1]:8443",
    "https://[::ffff:127.0.0.1]",
    "https://169.254.169.254/latest",
    "https://metadata.google.internal",
    "https://2130706433", // 127.0.0.1 in decimal
    "https://gpu-box", // a single-label name
    "https://user:secret@gpu.example.com",
  ];

  it.each(refused)("refuses %s with a 400 naming payload.url, and stores nothing", async (url) => {
    const before = await sql<{ n: string }>("select count(*)::text as n from providers");
    const { status, body } = await register(url);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: "payload.url", code: "invalid_endpoint_url" });
    expect(body.error!.message).toMatch(/^The endpoint URL is not allowed: /);
    expect(await sql<{ n: string }>("select count(*)::text as n from providers")).toEqual(before);
  });

  it("accepts a public HTTPS endpoint whose agent answers the challenge", async () => {
    const wallet = newWallet();
    stubs = await stubAgents({ "https://gpu-17.provider.example.com:8443": { account: wallet } });
    const { status } = await register("https://gpu-17.provider.example.com:8443", wallet);
    expect(status).toBe(201);
  });
});

describe("endpoint ownership", () => {
  const A_URL = "https://gpu-a.provider.example.com:8443";

  it("the honest path: the agent signs the gateway's challenge, the provider is stored and routable", async () => {
    const a = newWallet();
    stubs = await stubAgents({ [A_URL]: { account: a } });
    const first = await register(`${A_URL}/`, a);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    // One challenge, signed by the gateway, naming this endpoint, wallet and gateway.
    expect(stubs.challenges).toHaveLength(1);
    expect(stubs.challenges[0]).toMatchObject({
      endpoint: A_URL,
      authentic: true,
      body: { endpoint: A_URL, wallet: a.address, gateway: env.GATEWAY_ADDRESS, chain_id: CHAIN },
    });
    expect(await rows()).toEqual([{ id: first.id, url: A_URL, endpoint: A_URL }]);
    const key = await newKey("Registration routable");
    const models = await worker.fetch(
      new Request(`${BASE}/v1/models/registration-test/${first.id}`, { headers: { authorization: `Bearer ${key.secret}` } }),
      production,
      createExecutionContext(),
    );
    expect(models.status).toBe(200);
    expect(await models.json()).toMatchObject({ id: `registration-test/${first.id}`, providers: 1 });
    // The same wallet again, the endpoint spelled differently: the same provider, updated.
    const again = await register("HTTPS://GPU-A.Provider.Example.com:8443//", a, first.id);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "updated" });
    expect(await rows()).toEqual([{ id: first.id, url: A_URL, endpoint: A_URL }]);
  });

  it("a hijack attempt: another wallet registering a known endpoint under a new id is refused (409), unchallenged", async () => {
    const a = newWallet();
    const b = newWallet();
    stubs = await stubAgents({ [A_URL]: { account: a } });
    const owner = await register(A_URL, a);
    expect(owner.status).toBe(201);
    for (const spelling of [A_URL, "https://GPU-A.provider.example.com.:8443/"]) {
      const hijack = await register(spelling, b);
      expect(hijack.status).toBe(409);
      expect(hijack.body.error).toMatchObject({ code: "endpoint_taken", param: "payload.url", type: "invalid_request_error" });
    }
    expect(stubs.challenges).toHaveLength(1); // only the owner's
    expect((await rows()).map((r) => r.id)).toEqual([owner.id]);
  });

  it("an endpoint whose agent cannot sign for the registering wallet is refused (403) and nothing is stored", async () => {
    const a = newWallet();
    const b = newWallet();
    const C_URL = "https://gpu-c.provider.example.com";
    stubs = await stubAgents({ [C_URL]: { account: a } }); // a's agent, not yet registered
    const res = await register(C_URL, b);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: "endpoint_not_controlled", param: "payload.url", type: "permission_error" });
    expect(res.body.error!.message).toContain(C_URL);
    expect(stubs.challenges).toMatchObject([{ endpoint: C_URL, authentic: true, body: { wallet: b.address } }]);
    expect(await rows()).toEqual([]);
    // a itself may register it.
    expect((await register(C_URL, a)).status).toBe(201);
  });

  it("an agent answering with a signature of another wallet, or not at all, or with a redirect, proves nothing", async () => {
    const b = newWallet();
    const other = newWallet();
    const elsewhere = "https://gpu-e.provider.example.com";
    stubs = await stubAgents({
      // An agent that signs every challenge, with its own wallet.
      "https://gpu-d.provider.example.com": {
        account: b,
        reply: async (c) =>
          Response.json({
            signature: await signProviderMessage(other, CHAIN, "endpoint", challengePayload({ ...c, wallet: other.address })),
          }),
      },
      "https://gpu-r.provider.example.com": {
        account: b,
        reply: () => new Response(null, { status: 307, headers: { location: `${elsewhere}/meshgate/v1/challenge` } }),
      },
      "https://gpu-x.provider.example.com": { account: b, reply: () => new Response("no", { status: 404 }) },
      [elsewhere]: { account: b },
    });
    for (const url of ["https://gpu-d.provider.example.com", "https://gpu-r.provider.example.com", "https://gpu-x.provider.example.com"]) {
      const res = await register(url, b);
      expect(res.status, url).toBe(403);
      expect(res.body.error?.code).toBe("endpoint_not_controlled");
    }
    // The redirect was not followed: the endpoint it pointed at (which would sign for b) never heard of it.
    expect(stubs.challenges.map((c) => c.endpoint)).not.toContain(elsewhere);
    expect(await rows()).toEqual([]);
  });

  it("two registrations of one endpoint at once: one wins, the other is refused", async () => {
    const a = newWallet();
    const b = newWallet();
    // One agent holding both wallets: both challenges pass, the registry must still pick one.
    stubs = await stubAgents({ [A_URL]: { account: [a, b] } });
    const results = await Promise.all([register(A_URL, a), register(A_URL, b)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(results.find((r) => r.status === 409)!.body.error?.code).toBe("endpoint_taken");
    expect(await rows()).toHaveLength(1);
  });

  it("the registry serialises racing registrations of one endpoint (the store itself)", async () => {
    const model = { model: "registration-test/race", endpoints: ["chat"], inputPrice: 1n, outputPrice: 1n, contextLength: 4096 };
    const reg = (id: string) => ({
      id,
      address: newWallet().address,
      url: "https://gpu-race.provider.example.com",
      region: "eu",
      gpu: null,
      maxConcurrency: 1,
      messageAtMs: Date.now(),
      models: [model],
    });
    const outcomes = await Promise.all(Array.from({ length: 8 }, newId).map((id) => withDb((db) => registerProvider(db, reg(id)))));
    expect(outcomes.sort()).toEqual(["created", ...Array<string>(7).fill("endpoint_taken")]);
    expect(await rows()).toHaveLength(1);
  });
});
