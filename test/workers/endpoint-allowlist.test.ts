/**
 * The worker under the workers project's PROVIDER_URL_ALLOWLIST (exactly the two engines'
 * host:ports): every other private, loopback, metadata, encoded or self-targeting URL meets the
 * production policy, whether a provider registers it, an operator registers it, or the probe
 * finds it stored.
 */
import { SELF } from "cloudflare:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { admin, adminJson, BASE, engine, env, sql } from "../support/workerd/gateway";

type ErrorBody = { error?: { param: string | null; code: string | null; message: string } };

const listed = new URL(engine("wk-a").url); // http://127.0.0.1:<port>, listed
const port = listed.port;
const MODEL = "allowlist-test/model"; // no other test routes to it
const created: string[] = [];

const REFUSED = [
  "http://2130706433:1", // 127.0.0.1 in decimal, at a port nobody listed
  "http://0x7f000001:1", // in hex
  `http://[::ffff:127.0.0.1]:${port}`, // IPv4-mapped: not the listed spelling of the endpoint
  `http://[::1]:${port}`,
  `http://localhost:${port}`,
  `http://gpu.localhost:${port}`,
  `http://localhost.:${port}`,
  `http://0.0.0.0:${port}`,
  "http://169.254.169.254/latest",
  "http://metadata.google.internal",
  `http://[fd00::1]:${port}`,
  `http://[fe80::1]:${port}`,
  `http://10.0.0.5:${port}`,
  "http://127.0.0.1:1", // the listed host at another port
  `http://user:pw@127.0.0.1:${port}`, // credentials, even for a listed endpoint
  BASE, // the gateway itself
  "https://gateway.test:8443", // the gateway's host at another port
];

async function register(url: string): Promise<{ status: number; body: ErrorBody }> {
  const account = privateKeyToAccount(generatePrivateKey());
  const payload = {
    id: `allow-${crypto.randomUUID().slice(0, 8)}`,
    address: account.address,
    url,
    region: "local",
    gpu: null,
    max_concurrency: 4,
    timestamp: Date.now(),
    models: [{ model: MODEL, endpoints: ["chat"], input_price: "0.10", output_price: "0.20", context_length: 4096 }],
  };
  const signature = await signProviderMessage(account, Number(env.CHAIN_ID ?? 31337), "register", payload);
  const res = await SELF.fetch(`${BASE}/providers/v1/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload, signature }),
  });
  return { status: res.status, body: (await res.json()) as ErrorBody };
}

async function adminRegister(url: string, id = `allow-${crypto.randomUUID().slice(0, 8)}`) {
  const res = await admin("POST", "/providers", {
    id,
    url,
    region: "local",
    models: [{ model: MODEL, endpoints: ["chat"], input_price: "0.10", output_price: "0.20" }],
  });
  return { id, status: res.status, body: (await res.json()) as ErrorBody };
}

const providerCount = async () => (await sql<{ n: string }>("select count(*)::text as n from providers"))[0]!.n;

afterAll(async () => {
  for (const id of created) await admin("POST", `/providers/${id}/suspend`, { reason: "test over" });
});

describe("PROVIDER_URL_ALLOWLIST in workerd", () => {
  it.each(REFUSED)("a provider's registration of %s is a 400 naming payload.url, and stores nothing", async (url) => {
    const before = await providerCount();
    const { status, body } = await register(url);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: "payload.url", code: "invalid_endpoint_url" });
    expect(body.error!.message).toMatch(/^The endpoint URL is not allowed: .+\.$/);
    expect(await providerCount()).toBe(before);
  });

  it.each(REFUSED)("an operator's registration of %s is a 400 naming url, and stores nothing", async (url) => {
    const before = await providerCount();
    const { status, body } = await adminRegister(url);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: "url", code: "invalid_endpoint_url" });
    expect(body.error!.message).toMatch(/^The endpoint URL is not allowed: .+\.$/);
    expect(await providerCount()).toBe(before);
  });

  it("admits a listed engine: the operator's registration is stored", async () => {
    const { id, status } = await adminRegister(listed.origin);
    expect(status).toBe(201);
    created.push(id);
    expect(await sql("select url from providers where id = $1", [id])).toEqual([{ url: listed.origin }]);
  });

  it("admits a listed engine to a provider's registration (what follows is the ownership challenge, not the URL policy)", async () => {
    const { body } = await register(listed.origin);
    expect(body.error?.code).not.toBe("invalid_endpoint_url");
  });

  it("the probe does not call a stored URL the policy refuses", async () => {
    const { id } = await adminRegister(listed.origin);
    created.push(id);
    // A row written before the policy (or around it): the same engine, under a name nobody listed.
    await sql("update providers set url = $1 where id = $2", [`http://localhost:${port}`, id]);
    const { data } = await adminJson<{ data: { providerId: string; ok: boolean; error: string | null }[] }>("POST", "/jobs/probe/run");
    expect(data.find((r) => r.providerId === id)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^The endpoint URL is not allowed: /),
    });
  });
});
