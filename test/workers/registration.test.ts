/**
 * Provider registration in production mode (ALLOW_PRIVATE_PROVIDER_URLS unset): the gateway
 * refuses endpoints it must never call (SSRF), whoever signs them, and stores nothing.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import worker from "../../workers/index";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { BASE, env, sql } from "../support/workerd/gateway";

/** The worker as deployed: the flag that lets local providers register is absent. */
const production = { ...env, ALLOW_PRIVATE_PROVIDER_URLS: undefined } as unknown as typeof env;

async function register(url: string): Promise<{ status: number; body: { error?: { param: string; code: string; message: string } } }> {
  const account = privateKeyToAccount(generatePrivateKey());
  const id = `reg-${crypto.randomUUID().slice(0, 8)}`;
  const payload = {
    id,
    address: account.address,
    url,
    region: "eu",
    gpu: null,
    max_concurrency: 4,
    timestamp: Date.now(),
    // A model no other test routes to, so that an accepted registration changes nothing elsewhere.
    models: [{ model: "registration-test/model", endpoints: ["chat"], input_price: "0.10", output_price: "0.20", context_length: 4096 }],
  };
  const signature = await signProviderMessage(account, Number(env.CHAIN_ID ?? 31337), "register", payload);
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
  return { status: res.status, body: (await res.json()) as { error?: { param: string; code: string; message: string } } };
}

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

  it("accepts a public HTTPS endpoint", async () => {
    const { status } = await register("https://gpu-17.provider.example.com:8443");
    expect(status).toBe(201);
    // Gone again, so that the other files see only their own providers.
    const [row] = await sql<{ id: string }>("select id from providers where url = $1", ["https://gpu-17.provider.example.com:8443"]);
    expect(row).toBeDefined();
    await sql("delete from provider_models where provider_id = $1", [row!.id]);
    await sql("delete from providers where id = $1", [row!.id]);
  });
});
