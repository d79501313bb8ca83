/** When things stop: engine failures mid-request, the drain on shutdown, and a registration refused for good. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatPayload } from "../../workers/core/protocol/provider-messages";
import { decodeSignedReceipt, RECEIPT_EVENT } from "../../workers/core/protocol/receipt";
import { startSimEngine } from "../sim/engine";
import { metricValue, readRaw } from "../sim/testing";
import { startAgent, type AgentHandle } from "./agent";
import { chat, config, MODEL, quiet, removeOutboxDirs, setMode, sha256Hex } from "./agent.fixtures";
import { FatalError } from "./errors";
import { eventually, FakeGateway } from "./fake-gateway";

let gw: FakeGateway;
let agent: AgentHandle;

beforeAll(async () => {
  gw = await new FakeGateway().start();
  agent = await startAgent(config(gw), { log: quiet });
});
afterAll(async () => {
  await agent?.shutdown();
  await gw?.close();
  removeOutboxDirs();
});

describe("engine failures", () => {
  it("an engine stream cut mid-way: the chunks so far, then a receipt for them, and no [DONE]", async () => {
    await setMode(agent.engine.controlUrl!, { mode: "drop_after_n", n: 4, times: 1 });
    const requestId = `gen-cut-${Date.now()}`;
    const res = await gw.send(
      agent.url,
      "/v1/chat/completions",
      chat({ stream: true, stream_options: { include_usage: true }, max_tokens: 30, ignore_eos: true }),
      { requestId },
    );
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
    await eventually(
      async () => (await metricValue(agent.engine.metricsUrl, "vllm:num_requests_running")) === 1,
      2_000,
      "the engine to start",
    );
    abort.abort();
    await expect(pending).rejects.toThrow();
    await eventually(
      async () => (await metricValue(agent.engine.metricsUrl, "vllm:num_requests_running")) === 0,
      2_000,
      "the engine to stop",
    );
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
    const receipt = g.receiptPosts
      .flatMap((p) => p.payload.receipts.map((r) => decodeSignedReceipt(r)!))
      .find((r) => r.receipt.requestId === requestId);
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
