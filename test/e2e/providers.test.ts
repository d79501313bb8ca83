/** The provider protocol end to end: real agents (provider-runtime) in front of simulated engines. */
import { readFileSync } from "node:fs";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { importGatewaySigningKey, signGatewayRequest } from "../../workers/core/protocol/gateway-auth";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { decodeSignedReceipt, encodeSignedReceipt, receiptDomain, signReceipt } from "../../workers/core/protocol/receipt";
import { admin, byId, engineRequests, resetNetwork, sdk } from "../support/network-client";

const dev = inject("dev");
const client = sdk(dev);
const simA = byId(dev, "sim-a");
const ask = { model: dev.model, messages: [{ role: "user" as const, content: "receipts please" }], max_tokens: 7 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => resetNetwork(dev));

async function generation(id: string, until: (d: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 60; i++) {
    const res = await fetch(`${dev.baseURL}/generation?id=${id}`, { headers: { authorization: `Bearer ${dev.apiKey}` } });
    if (res.status === 200) {
      const d = ((await res.json()) as { data: Record<string, unknown> }).data;
      if (until(d)) return d;
    }
    await sleep(100);
  }
  throw new Error(`generation ${id} never matched`);
}

const registerBody = async (privateKey: `0x${string}`, id: string) => {
  const account = privateKeyToAccount(privateKey);
  const payload = {
    id,
    address: account.address,
    url: simA.url,
    region: "local",
    gpu: null,
    max_concurrency: 8,
    timestamp: Date.now(),
    // sim-a's real offer, so that re-registering it changes nothing for the tests after this one.
    models: [
      {
        model: dev.model,
        endpoints: ["chat", "completions"],
        input_price: simA.inputPrice,
        output_price: simA.outputPrice,
        context_length: 8192,
      },
    ],
  };
  return { payload, signature: await signProviderMessage(account, 31337, "register", payload) };
};

describe("registration", () => {
  it("each agent registered itself, bound to its own wallet", async () => {
    const res = (await (await admin(dev, "GET", "/admin/v1/providers")).json()) as { data: { id: string; address: string | null }[] };
    for (const p of dev.providers) {
      expect(p.address).toMatch(/^0x[0-9a-fA-F]{40}$/);
      expect(res.data.find((r) => r.id === p.id)?.address).toBe(p.address!.toLowerCase());
    }
    expect(new Set(dev.providers.map((p) => p.address)).size).toBe(dev.providers.length);
  });

  it("re-registration with the same wallet updates; another wallet cannot take the id over", async () => {
    const own = readFileSync(simA.restart.args[simA.restart.args.indexOf("--wallet-key-file") + 1]!, "utf8").trim() as `0x${string}`;
    const again = await fetch(`${dev.gatewayURL}/providers/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(await registerBody(own, "sim-a")),
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "updated" });
    const hijack = await fetch(`${dev.gatewayURL}/providers/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(await registerBody(generatePrivateKey(), "sim-a")),
    });
    expect(hijack.status).toBe(403);
    expect(await hijack.json()).toMatchObject({ error: { type: "permission_error" } });
  });

  it("another wallet cannot register a running agent's endpoint under a new id", async () => {
    const hijack = await fetch(`${dev.gatewayURL}/providers/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(await registerBody(generatePrivateKey(), "sim-hijack")),
    });
    expect(hijack.status).toBe(409);
    expect(await hijack.json()).toMatchObject({ error: { code: "endpoint_taken", param: "payload.url" } });
    const res = (await (await admin(dev, "GET", "/admin/v1/providers")).json()) as { data: { id: string }[] };
    expect(res.data.map((p) => p.id)).not.toContain("sim-hijack");
  });

  it("a provider whose heartbeats stop is not routed to, and is again when they resume", async () => {
    process.kill(simA.pid, "SIGSTOP");
    try {
      await sleep(4_500); // HEARTBEAT_FRESH_MS is 4 s in these tests
      // (The stopped agent hosts its engine too: nothing may call it while it is stopped.)
      const { response } = await client.chat.completions.create(ask).withResponse();
      expect(response.headers.get("x-meshgate-provider")).toBe("sim-b");
      expect(response.headers.get("x-meshgate-attempts")).toBe("1"); // not even tried
    } finally {
      process.kill(simA.pid, "SIGCONT");
    }
    let served = "";
    for (let i = 0; i < 40 && served !== "sim-a"; i++) {
      await sleep(250);
      served = (await client.chat.completions.create(ask).withResponse()).response.headers.get("x-meshgate-provider") ?? "";
    }
    expect(served).toBe("sim-a");
  });
});

describe("the agent serves only the gateway", () => {
  it("a request without the gateway's signature gets 401 and never reaches the engine", async () => {
    const before = await engineRequests(simA);
    const res = await fetch(`${simA.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ask),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_gateway_signature" } });
    expect(await engineRequests(simA)).toBe(before);
  });

  it("a replayed signed request is refused", async () => {
    const { requestKey } = JSON.parse(readFileSync(dev.gatewayKeyFile, "utf8")) as { requestKey: string };
    const key = await importGatewaySigningKey(requestKey);
    const body = JSON.stringify(ask);
    const headers = await signGatewayRequest(key, {
      method: "POST",
      path: "/v1/chat/completions",
      requestId: `gen-replay-${Date.now()}`,
      timestampMs: Date.now(),
      body,
    });
    const send = () =>
      fetch(`${simA.url}/v1/chat/completions`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
    const first = await send();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-meshgate-receipt")).toBeTruthy();
    const before = await engineRequests(simA);
    expect((await send()).status).toBe(401);
    expect(await engineRequests(simA)).toBe(before);
  });
});

describe("receipts", () => {
  it("streamed and non-streamed requests through the SDK produce verified receipts equal to the usage", async () => {
    const { data, response } = await client.chat.completions.create(ask).withResponse();
    const json = await generation(response.headers.get("x-request-id")!, (d) => d.receipt_status !== "none" && d.receipt !== null);
    expect(json).toMatchObject({
      receipt_status: "verified",
      counts: "provider_signed",
      receipt: {
        status: "verified",
        source: "inline",
        signer: simA.address!.toLowerCase(),
        prompt_tokens: data.usage!.prompt_tokens,
        completion_tokens: data.usage!.completion_tokens,
      },
    });

    const { data: stream, response: sres } = await client.chat.completions
      .create({ ...ask, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    const raw: string[] = [];
    for await (const c of stream) {
      raw.push(JSON.stringify(c));
      if (c.usage) usage = c.usage;
    }
    expect(raw.some((r) => r.includes("signature"))).toBe(false); // the receipt event never reaches the client
    const streamed = await generation(sres.headers.get("x-request-id")!, (d) => d.receipt_status !== "none" && d.receipt !== null);
    expect(streamed).toMatchObject({
      receipt_status: "verified",
      receipt: { prompt_tokens: usage!.prompt_tokens, completion_tokens: usage!.completion_tokens },
    });
  });

  it("a tampered receipt (changed token count) is detected and refused", async () => {
    const { requestKey } = JSON.parse(readFileSync(dev.gatewayKeyFile, "utf8")) as { requestKey: string };
    const body = JSON.stringify(ask);
    const headers = await signGatewayRequest(await importGatewaySigningKey(requestKey), {
      method: "POST",
      path: "/v1/chat/completions",
      requestId: `gen-tamper-${Date.now()}`,
      timestampMs: Date.now(),
      body,
    });
    const res = await fetch(`${simA.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
    const signed = decodeSignedReceipt(res.headers.get("x-meshgate-receipt")!)!;
    const tampered = encodeSignedReceipt({ ...signed.receipt, completionTokens: signed.receipt.completionTokens + 100 }, signed.signature);
    const own = readFileSync(simA.restart.args[simA.restart.args.indexOf("--wallet-key-file") + 1]!, "utf8").trim() as `0x${string}`;
    const account = privateKeyToAccount(own);
    const post = async (receipts: string[]) => {
      const payload = { address: account.address, timestamp: Date.now(), receipts };
      const ack = await fetch(`${dev.gatewayURL}/providers/v1/receipts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ payload, signature: await signProviderMessage(account, 31337, "receipts", payload) }),
      });
      expect(ack.status).toBe(200);
      return ack.json();
    };
    expect(await post([tampered])).toEqual({ accepted: [], rejected: [{ request_id: signed.receipt.requestId, reason: "signature" }] });
    // Genuine, but for a request the gateway has no record of yet: the provider keeps it for later.
    expect(await post([encodeSignedReceipt(signed.receipt, signed.signature)])).toEqual({ accepted: [], rejected: [] });

    // An old one is stored as an orphan; a copy is acknowledged without a second check, but a
    // tampered copy (same signature, other content) is still refused.
    const old = { ...signed.receipt, requestId: `gen-old-${Date.now()}`, timestamp: BigInt(Date.now() - 11 * 60_000) };
    const oldSignature = await signReceipt(account, receiptDomain(31337), old);
    const genuineOld = encodeSignedReceipt(old, oldSignature);
    expect(await post([genuineOld])).toEqual({ accepted: [old.requestId], rejected: [] });
    expect(await post([genuineOld])).toEqual({ accepted: [old.requestId], rejected: [] });
    const tamperedOld = encodeSignedReceipt({ ...old, completionTokens: old.completionTokens + 1 }, oldSignature);
    expect(await post([tamperedOld])).toEqual({ accepted: [], rejected: [{ request_id: old.requestId, reason: "signature" }] });
  });
});
