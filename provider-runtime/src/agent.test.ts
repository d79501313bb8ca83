/** The agent on the request path: registration and heartbeats, the gateway's signature, forwarding with receipts. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatPayload, RegisterPayload } from "../../workers/core/protocol/provider-messages";
import { decodeSignedReceipt, RECEIPT_EVENT, RECEIPT_HEADER, receiptDomain, verifyReceipt } from "../../workers/core/protocol/receipt";
import { metricValue, readRaw, sseData } from "../sim/testing";
import { startAgent, type AgentHandle } from "./agent";
import { chat, config, EMBED, MODEL, quiet, removeOutboxDirs, setMode, sha256Hex } from "./agent.fixtures";
import { eventually, FakeGateway } from "./fake-gateway";

const simRequests = (agent: AgentHandle) => metricValue(agent.engine.metricsUrl, "meshgate_sim_requests_total", "chat/completions");
const withoutVolatile = (v: unknown) =>
  JSON.parse(JSON.stringify(v), (k, x: unknown) => (k === "id" || k === "created" ? undefined : x)) as unknown;

let gw: FakeGateway;
let agent: AgentHandle;

beforeAll(async () => {
  gw = await new FakeGateway().start();
  agent = await startAgent(config(gw, ["--provider-id", "unit-a", "--region", "eu-test", "--max-concurrency", "7"]), { log: quiet });
});
afterAll(async () => {
  await agent?.shutdown();
  await gw?.close();
  removeOutboxDirs();
});

describe("registration and heartbeats", () => {
  it("registers with a payload signed by its wallet, offering its models and prices", async () => {
    const reg = gw.registers.at(-1)!;
    expect(reg.valid).toBe(true);
    const payload = RegisterPayload.parse(reg.payload);
    expect(payload).toMatchObject({
      id: "unit-a",
      address: agent.address,
      url: agent.url,
      region: "eu-test",
      max_concurrency: 7,
      gpu: { present: false },
    });
    expect(payload.models).toEqual([
      { model: MODEL, endpoints: ["chat", "completions"], input_price: "0.15", output_price: "0.6", context_length: 512 },
      { model: EMBED, endpoints: ["embeddings"], input_price: "0.15", output_price: "0.6", context_length: 512 },
    ]);
    expect(await (await fetch(`${agent.url}/health`)).json()).toEqual({ ok: true, registered: true, draining: false });
  });

  it("heartbeats carry the engine's load from /metrics, signed, with increasing timestamps", async () => {
    await setMode(agent.engine.controlUrl!, { mode: "trickle", interval_ms: 20, times: 1 });
    const res = await gw.send(agent.url, "/v1/chat/completions", chat({ stream: true, max_tokens: 15, ignore_eos: true }));
    const from = gw.heartbeats.length;
    const busy = await eventually(
      () => gw.heartbeats.slice(from).find((h) => (h.payload as HeartbeatPayload).load.running >= 1),
      3_000,
      "a busy heartbeat",
    );
    await readRaw(res);
    const after = await eventually(
      () => gw.heartbeats.slice(from).find((h) => (h.payload as HeartbeatPayload).load.tokens_served >= 15),
      3_000,
      "tokens served",
    );
    for (const h of [busy, after]) {
      expect(h.valid).toBe(true);
      expect(HeartbeatPayload.parse(h.payload)).toMatchObject({ id: "unit-a", address: agent.address, draining: false });
    }
    expect((busy.payload as HeartbeatPayload).load.kv_cache_usage).toBeGreaterThan(0);
    const stamps = gw.heartbeats.map((h) => (h.payload as HeartbeatPayload).timestamp);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(new Set(stamps).size).toBe(stamps.length);
  });
});

describe("gateway authentication", () => {
  it("answers 401 to unsigned or wrongly signed requests, and the engine sees nothing", async () => {
    const before = await simRequests(agent);
    const body = JSON.stringify(chat());
    const unsigned = await fetch(`${agent.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({
      error: {
        message: "Gateway signature rejected (missing_headers).",
        type: "invalid_request_error",
        param: null,
        code: "invalid_gateway_signature",
      },
    });
    const otherBody = await gw.sign("/v1/chat/completions", JSON.stringify(chat({ seed: 4 })));
    const tampered = await fetch(`${agent.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...otherBody, "content-type": "application/json" },
      body,
    });
    expect(tampered.status).toBe(401);
    const stale = await gw.sign("/v1/chat/completions", body, undefined, Date.now() - 60_000);
    expect((await fetch(`${agent.url}/v1/chat/completions`, { method: "POST", headers: stale, body })).status).toBe(401);
    expect(await simRequests(agent)).toBe(before);
  });

  it("answers 401 to a replay of a correctly signed request", async () => {
    const before = await simRequests(agent);
    const body = JSON.stringify(chat());
    const headers = { ...(await gw.sign("/v1/chat/completions", body)), "content-type": "application/json" };
    const first = await fetch(`${agent.url}/v1/chat/completions`, { method: "POST", headers, body });
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const replay = await fetch(`${agent.url}/v1/chat/completions`, { method: "POST", headers, body });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { message: string } }).error.message).toContain("replayed");
    expect(await simRequests(agent)).toBe(before + 1);
  });

  it("answers 404 JSON off the inference paths and 405 to GET on them", async () => {
    const res = await fetch(`${agent.url}/v1/models`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", code: "not_found" } });
    expect((await fetch(`${agent.url}/v1/chat/completions`)).status).toBe(405);
  });
});

describe("forwarding and receipts", () => {
  it("JSON: relays the engine's body untouched with a receipt header that verifies and matches the usage", async () => {
    const requestId = `gen-json-${Date.now()}`;
    const res = await gw.send(agent.url, "/v1/chat/completions", chat({ max_tokens: 20 }), { requestId });
    expect(res.status).toBe(200);
    const text = await res.text();
    const direct = await (
      await fetch(`${agent.engine.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chat({ max_tokens: 20 })) })
    ).json();
    const body = JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(withoutVolatile(body)).toEqual(withoutVolatile(direct));
    const signed = decodeSignedReceipt(res.headers.get(RECEIPT_HEADER)!)!;
    expect(signed.receipt).toMatchObject({
      requestId,
      model: MODEL,
      promptTokens: body.usage.prompt_tokens,
      completionTokens: body.usage.completion_tokens,
      inputPrice: 150_000n,
      outputPrice: 600_000n,
      provider: agent.address,
      gateway: gw.account.address,
      responseHash: sha256Hex(text),
    });
    expect(await verifyReceipt(receiptDomain(31337), signed.receipt, signed.signature, agent.address)).toBe(true);
  });

  it("streams: relays the events untouched, then a final receipt event that verifies and matches the usage", async () => {
    const requestId = `gen-sse-${Date.now()}`;
    const req = chat({ stream: true, stream_options: { include_usage: true }, max_tokens: 12 });
    const res = await gw.send(agent.url, "/v1/chat/completions", req, { requestId });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const { text, error } = await readRaw(res);
    expect(error).toBeNull();
    const marker = `event: ${RECEIPT_EVENT}\ndata: `;
    const cut = text.lastIndexOf(marker);
    const engineBytes = text.slice(0, cut);
    expect(engineBytes.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(text.endsWith("\n\n")).toBe(true);
    const direct = await readRaw(await fetch(`${agent.engine.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(req) }));
    const events = (t: string) => sseData(t).map((d) => (d === "[DONE]" ? d : withoutVolatile(JSON.parse(d))));
    expect(events(engineBytes)).toEqual(events(direct.text));
    const usage = (JSON.parse(sseData(engineBytes).at(-2)!) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const signed = decodeSignedReceipt(text.slice(cut + marker.length).trim())!;
    expect(signed.receipt).toMatchObject({
      requestId,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      responseHash: sha256Hex(engineBytes),
    });
    expect(await verifyReceipt(receiptDomain(31337), signed.receipt, signed.signature, agent.address)).toBe(true);
  });

  it("embeddings: the receipt counts the input tokens", async () => {
    const res = await gw.send(agent.url, "/v1/embeddings", { model: EMBED, input: ["one two three", "four"] });
    const body = (await res.json()) as { usage: { prompt_tokens: number } };
    const signed = decodeSignedReceipt(res.headers.get(RECEIPT_HEADER)!)!;
    expect(signed.receipt).toMatchObject({ model: EMBED, promptTokens: body.usage.prompt_tokens, completionTokens: 0 });
  });

  it("relays engine errors as they came, without a receipt", async () => {
    await setMode(agent.engine.controlUrl!, { mode: "status_before_first_byte", status: 429, retry_after: 2, times: 1 });
    const res = await gw.send(agent.url, "/v1/chat/completions", chat());
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(res.headers.get(RECEIPT_HEADER)).toBeNull();
    expect(await res.json()).toMatchObject({ error: { type: "rate_limit_error" } });
  });

  it("cancels the engine request when the gateway goes away mid-stream, and files a receipt for what was generated", async () => {
    await setMode(agent.engine.controlUrl!, { mode: "trickle", interval_ms: 20, times: 1 });
    const requestId = `gen-abort-${Date.now()}`;
    const abort = new AbortController();
    const res = await gw.send(agent.url, "/v1/chat/completions", chat({ stream: true, max_tokens: 200, ignore_eos: true }), {
      requestId,
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    let seen = "";
    while ((seen.match(/"content":"[^"]+"/g) ?? []).length < 3) seen += new TextDecoder().decode((await reader.read()).value);
    const tokensBefore = await metricValue(agent.engine.metricsUrl, "vllm:generation_tokens_total");
    abort.abort();
    await eventually(
      async () => (await metricValue(agent.engine.metricsUrl, "vllm:num_requests_running")) === 0,
      2_000,
      "the engine to stop",
    );
    const tokensAfter = await metricValue(agent.engine.metricsUrl, "vllm:generation_tokens_total");
    expect(tokensAfter - tokensBefore).toBeLessThan(10);
    const posted = await eventually(
      () =>
        gw.receiptPosts
          .flatMap((p) => p.payload.receipts.map((r) => decodeSignedReceipt(r)!))
          .find((r) => r.receipt.requestId === requestId),
      3_000,
      "the outbox receipt",
    );
    expect(posted.receipt.completionTokens).toBeGreaterThanOrEqual(3);
    expect(posted.receipt.completionTokens).toBeLessThan(20);
    // No usage chunk came: the prompt was counted by the engine's /tokenize ("tell me something" + 1 for the message).
    expect(posted.receipt.promptTokens).toBe(4);
    expect(await verifyReceipt(receiptDomain(31337), posted.receipt, posted.signature, agent.address)).toBe(true);
  });
});
