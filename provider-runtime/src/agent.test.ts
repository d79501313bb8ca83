import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatPayload, RegisterPayload } from "../../workers/core/protocol/provider-messages";
import { decodeSignedReceipt, RECEIPT_EVENT, RECEIPT_HEADER, receiptDomain, verifyReceipt } from "../../workers/core/protocol/receipt";
import { startSimEngine } from "../sim/engine";
import { metricValue, readRaw, sseData } from "../sim/testing";
import { startAgent, type AgentHandle } from "./agent";
import { readConfig } from "./config";
import { FatalError } from "./errors";
import { eventually, FakeGateway } from "./fake-gateway";

const MODEL = "meshgate/sim-llama-8b";
const EMBED = "meshgate/sim-embed";
const dirs: string[] = [];
const quiet = () => {};

function config(gw: FakeGateway, extra: string[] = [], key: `0x${string}` = generatePrivateKey()) {
  const dir = mkdtempSync(join(tmpdir(), "meshgate-outbox-"));
  dirs.push(dir);
  return readConfig(
    [
      "--gateway", gw.url, "--engine", "sim", "--sim-ttft-ms", "0", "--sim-tokens-per-second", "0", "--sim-embedding-model", EMBED,
      "--model", MODEL, "--price-in", "0.15", "--price-out", "0.6", "--port", "0", "--wallet-key", key,
      "--heartbeat-ms", "100", "--outbox-ms", "100", "--context-length", "512", "--outbox-dir", dir, ...extra,
    ],
    {},
  );
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: "user", content: "tell me something" }], seed: 3, ...extra });
const setMode = (controlUrl: string, mode: Record<string, unknown>) =>
  fetch(controlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(mode) }).then((r) => r.json());
const simRequests = (agent: AgentHandle) => metricValue(agent.engine.metricsUrl, "meshgate_sim_requests_total", "chat/completions");
const withoutVolatile = (v: unknown) => JSON.parse(JSON.stringify(v), (k, x: unknown) => (k === "id" || k === "created" ? undefined : x)) as unknown;
const sha256Hex = (bytes: string | Buffer) => `0x${createHash("sha256").update(bytes).digest("hex")}`;

let gw: FakeGateway;
let agent: AgentHandle;

beforeAll(async () => {
  gw = await new FakeGateway().start();
  agent = await startAgent(config(gw, ["--provider-id", "unit-a", "--region", "eu-test", "--max-concurrency", "7"]), { log: quiet });
});
afterAll(async () => {
  await agent?.shutdown();
  await gw?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("registration and heartbeats", () => {
  it("registers with a payload signed by its wallet, offering its models and prices", async () => {
    const reg = gw.registers.at(-1)!;
    expect(reg.valid).toBe(true);
    const payload = RegisterPayload.parse(reg.payload);
    expect(payload).toMatchObject({ id: "unit-a", address: agent.address, url: agent.url, region: "eu-test", max_concurrency: 7, gpu: { present: false } });
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
    const busy = await eventually(() => gw.heartbeats.slice(from).find((h) => (h.payload as HeartbeatPayload).load.running >= 1), 3_000, "a busy heartbeat");
    await readRaw(res);
    const after = await eventually(() => gw.heartbeats.slice(from).find((h) => (h.payload as HeartbeatPayload).load.tokens_served >= 15), 3_000, "tokens served");
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
    const unsigned = await fetch(`${agent.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({
      error: { message: "Gateway signature rejected (missing_headers).", type: "invalid_request_error", param: null, code: "invalid_gateway_signature" },
    });
    const otherBody = await gw.sign("/v1/chat/completions", JSON.stringify(chat({ seed: 4 })));
    const tampered = await fetch(`${agent.url}/v1/chat/completions`, { method: "POST", headers: { ...otherBody, "content-type": "application/json" }, body });
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
    const direct = await (await fetch(`${agent.engine.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chat({ max_tokens: 20 })) })).json();
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
    const res = await gw.send(agent.url, "/v1/chat/completions", chat({ stream: true, max_tokens: 200, ignore_eos: true }), { requestId, signal: abort.signal });
    const reader = res.body!.getReader();
    let seen = "";
    while ((seen.match(/"content":"[^"]+"/g) ?? []).length < 3) seen += new TextDecoder().decode((await reader.read()).value);
    const tokensBefore = await metricValue(agent.engine.metricsUrl, "vllm:generation_tokens_total");
    abort.abort();
    await eventually(async () => (await metricValue(agent.engine.metricsUrl, "vllm:num_requests_running")) === 0, 2_000, "the engine to stop");
    const tokensAfter = await metricValue(agent.engine.metricsUrl, "vllm:generation_tokens_total");
    expect(tokensAfter - tokensBefore).toBeLessThan(10);
    const posted = await eventually(
      () => gw.receiptPosts.flatMap((p) => p.payload.receipts.map((r) => decodeSignedReceipt(r)!)).find((r) => r.receipt.requestId === requestId),
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

describe("engine failures", () => {
  it("an engine stream cut mid-way: the chunks so far, then a receipt for them, and no [DONE]", async () => {
    await setMode(agent.engine.controlUrl!, { mode: "drop_after_n", n: 4, times: 1 });
    const requestId = `gen-cut-${Date.now()}`;
    const res = await gw.send(agent.url, "/v1/chat/completions", chat({ stream: true, stream_options: { include_usage: true }, max_tokens: 30, ignore_eos: true }), { requestId });
    const { text } = await readRaw(res);
    const cut = text.lastIndexOf(`event: ${RECEIPT_EVENT}`);
    expect(cut).toBeGreaterThan(0);
    expect(text.slice(0, cut)).not.toContain("[DONE]");
    const signed = decodeSignedReceipt(text.slice(cut).split("data: ")[1]!.trim())!;
    expect(signed.receipt).toMatchObject({ requestId, completionTokens: 4, responseHash: sha256Hex(text.slice(0, cut)) });
  });

  it("a JSON request the gateway abandons is cancelled at the engine", async () => {
    await setMode(agent.engine.controlUrl!, { mode: "trickle", interval_ms: 20, times: 1 });
    const abort = new AbortController();
    const pending = gw.send(agent.url, "/v1/chat/completions", chat({ max_tokens: 200, ignore_eos: true }), { signal: abort.signal });
    await eventually(async () => (await metricValue(agent.engine.metricsUrl, "vllm:num_requests_running")) === 1, 2_000, "the engine to start");
    abort.abort();
    await expect(pending).rejects.toThrow();
    await eventually(async () => (await metricValue(agent.engine.metricsUrl, "vllm:num_requests_running")) === 0, 2_000, "the engine to stop");
    await eventually(() => agent.inFlight() === 0, 1_000, "the request to be over");
  });

  it("works with an engine at --engine-url, and answers 502 in OpenAI's shape once it is gone", async () => {
    const engine = await startSimEngine({ model: MODEL, ttftMs: 0, tokensPerSecond: 0 });
    const g = await new FakeGateway().start();
    const cfg = config(g);
    const a = await startAgent({ ...cfg, engine: { kind: "vllm", url: engine.url } }, { log: quiet });
    expect(a.engine).toEqual({ url: engine.url, metricsUrl: engine.metricsUrl });
    expect((await g.send(a.url, "/v1/chat/completions", chat())).status).toBe(200);
    await engine.close();
    const res = await g.send(a.url, "/v1/chat/completions", chat());
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { type: "server_error", code: "engine_unavailable" } });
    await a.shutdown();
    await g.close();
  });
});

describe("the outbox", () => {
  it("posts every receipt in signed batches and compacts the acknowledged ones away", async () => {
    const requestId = `gen-outbox-${Date.now()}`;
    await (await gw.send(agent.url, "/v1/completions", { model: MODEL, prompt: "hi", max_tokens: 5 }, { requestId })).text();
    await eventually(() => gw.acknowledged.has(requestId), 3_000, "the acknowledgement");
    expect(gw.receiptPosts.every((p) => p.valid && p.payload.address === agent.address)).toBe(true);
    await eventually(() => agent.outbox.size === 0, 2_000, "an empty outbox");
    await eventually(() => !readFileSync(agent.outbox.file, "utf8").includes(requestId), 2_000, "compaction");
  });

  it("keeps receipts the gateway cannot take yet across a restart, and delivers them later", async () => {
    const missing = await new FakeGateway().start();
    missing.receiptsMode = "missing";
    const key = generatePrivateKey();
    const cfg = config(missing, [], key);
    const first = await startAgent(cfg, { log: quiet });
    const ids = [`gen-keep-1-${Date.now()}`, `gen-keep-2-${Date.now()}`];
    for (const requestId of ids) await (await missing.send(first.url, "/v1/chat/completions", chat(), { requestId })).text();
    await eventually(() => missing.receiptAttempts > 0, 2_000, "a refused post");
    await first.shutdown();
    const lines = readFileSync(first.outbox.file, "utf8").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(ids);

    const ok = await new FakeGateway().start();
    const second = await startAgent({ ...cfg, gatewayUrl: ok.url }, { log: quiet });
    await eventually(() => ids.every((id) => ok.acknowledged.has(id)), 3_000, "delivery after restart");
    await eventually(() => readFileSync(second.outbox.file, "utf8") === "", 2_000, "compaction");
    await second.shutdown();
    await Promise.all([missing.close(), ok.close()]);
  });
});

describe("when the gateway refuses", () => {
  it("sets receipts it refuses three times aside in rejected.jsonl, and stops posting them", async () => {
    const g = await new FakeGateway().start();
    g.receiptsMode = "reject";
    const a = await startAgent(config(g), { log: quiet });
    const requestId = `gen-refused-${Date.now()}`;
    await (await g.send(a.url, "/v1/chat/completions", chat(), { requestId })).text();
    await eventually(() => a.outbox.size === 0, 3_000, "the receipt set aside");
    const aside = readFileSync(join(dirname(a.outbox.file), "rejected.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { requestId: string; reason: string });
    expect(aside).toEqual([expect.objectContaining({ requestId, reason: "not addressed to this gateway" })]);
    expect(g.receiptPosts.filter((p) => p.payload.receipts.some((r) => r.includes(requestId)))).toHaveLength(3);
    await a.shutdown();
    await g.close();
  });

  it("registers again when its heartbeats are refused as unknown", async () => {
    const g = await new FakeGateway().start();
    const a = await startAgent(config(g), { log: quiet });
    await eventually(() => g.heartbeats.length > 0, 2_000, "a heartbeat");
    g.forgotten = true;
    await eventually(() => g.registers.length === 2 && !g.forgotten, 2_000, "a second registration");
    expect(g.registers[1]!.valid).toBe(true);
    await a.shutdown();
    await g.close();
  });
});

describe("lifecycle", () => {
  it("drains on shutdown: 503 to new requests, in-flight ones finish, a final draining heartbeat, the outbox flushed", async () => {
    const g = await new FakeGateway().start();
    const a = await startAgent(config(g), { log: quiet });
    await setMode(a.engine.controlUrl!, { mode: "trickle", interval_ms: 15, times: 1 });
    const requestId = `gen-drain-${Date.now()}`;
    const inflight = await g.send(a.url, "/v1/chat/completions", chat({ stream: true, max_tokens: 20, ignore_eos: true }), { requestId });
    const reading = readRaw(inflight);
    await eventually(() => g.heartbeats.length > 0, 2_000, "a heartbeat");
    const stopped = a.shutdown();
    await eventually(() => a.state.draining, 1_000, "draining");
    const refused = await g.send(a.url, "/v1/chat/completions", chat());
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: "provider_draining" } });
    const { text, error } = await reading;
    expect(error).toBeNull();
    expect(text).toContain(`event: ${RECEIPT_EVENT}`);
    await stopped;
    expect((g.heartbeats.at(-1)!.payload as HeartbeatPayload).draining).toBe(true);
    expect(g.acknowledged.has(requestId)).toBe(true);
    await expect(fetch(`${a.url}/health`)).rejects.toThrow();
    await g.close();
  });

  it("bounds the drain: a stream still running after --drain-ms is cut, and its receipt is flushed", async () => {
    const g = await new FakeGateway().start();
    const a = await startAgent(config(g, ["--drain-ms", "150"]), { log: quiet });
    await setMode(a.engine.controlUrl!, { mode: "trickle", interval_ms: 20, times: 1 });
    const requestId = `gen-cutoff-${Date.now()}`;
    const res = await g.send(a.url, "/v1/chat/completions", chat({ stream: true, max_tokens: 500, ignore_eos: true }), { requestId });
    const reading = readRaw(res);
    const started = Date.now();
    await a.shutdown();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await reading).text).not.toContain("[DONE]");
    const receipt = g.receiptPosts.flatMap((p) => p.payload.receipts.map((r) => decodeSignedReceipt(r)!)).find((r) => r.receipt.requestId === requestId);
    expect(receipt?.receipt.completionTokens).toBeGreaterThan(0);
    expect(receipt?.receipt.completionTokens).toBeLessThan(500);
    await g.close();
  });

  it("stops with a FatalError when the gateway refuses the registration for good", async () => {
    const g = await new FakeGateway().start();
    g.registerRefusal = { status: 403, message: "Provider id 'taken' belongs to another wallet." };
    await expect(startAgent(config(g, ["--provider-id", "taken"]), { log: quiet })).rejects.toThrow(
      new FatalError("registration refused: gateway answered 403: Provider id 'taken' belongs to another wallet."),
    );
    await g.close();
  });
});
