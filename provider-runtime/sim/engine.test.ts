import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimEngine, type SimEngine } from "./engine";
import { isLoopback } from "./http-io";
import { countChatPromptTokens, countPromptTokens, planChoice } from "./text";
import { metricValue, postJson, readRaw, sseData } from "./testing";

const MODEL = "meshgate/sim-llama-8b";
const EMBED = "meshgate/sim-embed";
let engine: SimEngine;
let client: OpenAI;
const user = (content: string) => [{ role: "user" as const, content }];

beforeAll(async () => {
  engine = await startSimEngine({
    port: 0,
    model: MODEL,
    embeddingModel: EMBED,
    ttftMs: 0,
    tokensPerSecond: 0,
    contextLength: 512,
    name: "unit",
  });
  client = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: "sim", maxRetries: 0 });
});
afterAll(() => engine.close());

describe("text", () => {
  it("counts one token per word, plus one per chat message", () => {
    expect(countPromptTokens("  hello   big\nworld ")).toBe(3);
    expect(countPromptTokens(" ")).toBe(0);
    expect(countChatPromptTokens(["hi there", "ok"])).toBe(5);
  });
  it("ends naturally between 8 and 48 tokens, or at max_tokens with length", () => {
    for (let seed = 0; seed < 50; seed++) {
      const c = planChoice({ prompt: "p", seed, index: 0, maxTokens: 100, stop: [] });
      expect(c.finishReason).toBe("stop");
      expect(c.tokens.length).toBeGreaterThanOrEqual(8);
      expect(c.tokens.length).toBeLessThanOrEqual(48);
    }
    expect(planChoice({ prompt: "p", seed: 1, index: 0, maxTokens: 300, stop: [], ignoreEos: true }).tokens).toHaveLength(300);
  });
  it("cuts before a stop string spanning tokens", () => {
    const full = planChoice({ prompt: "p", seed: 3, index: 0, maxTokens: 7, stop: [] }).tokens.join("");
    const stop = full.slice(full.indexOf(" ", 3) - 2, full.indexOf(" ", 3) + 3);
    const cut = planChoice({ prompt: "p", seed: 3, index: 0, maxTokens: 7, stop: [stop] });
    expect(cut).toMatchObject({ finishReason: "stop" });
    expect(cut.tokens.join("")).toBe(full.slice(0, full.indexOf(stop)));
  });
  it("treats only loopback addresses as local", () => {
    expect(["127.0.0.1", "::1", "::ffff:127.0.0.1"].every(isLoopback)).toBe(true);
    expect(["10.0.0.1", "::ffff:192.168.1.2", undefined].some(isLoopback)).toBe(false);
  });
});

describe("OpenAI surface", () => {
  it("labels itself and lists its models", async () => {
    const health = await fetch(`${engine.url}/health`);
    expect([health.status, health.headers.get("x-meshgate-simulator")]).toEqual([200, "1"]);
    const models = await client.models.list();
    expect(models.data.map((m) => [m.id, m.owned_by])).toEqual([
      [MODEL, "meshgate-simulator"],
      [EMBED, "meshgate-simulator"],
    ]);
    expect(models.data[0]).toMatchObject({ object: "model", max_model_len: 512 });
  });

  it("answers a chat with the exact usage of its token rule", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: user("say something nice"), seed: 7 })
      .withResponse();
    expect(response.headers.get("x-meshgate-simulator")).toBe("1");
    expect(data).toMatchObject({ object: "chat.completion", model: MODEL, choices: [{ index: 0, finish_reason: "stop", logprobs: null }] });
    expect(data.id).toMatch(/^chatcmpl-/);
    const content = data.choices[0]!.message.content!;
    expect(data.usage).toEqual({
      prompt_tokens: 4,
      completion_tokens: countPromptTokens(content),
      total_tokens: 4 + countPromptTokens(content),
    });
  });

  it("is deterministic in prompt and seed, and streams the same text", async () => {
    const ask = (seed: number) => client.chat.completions.create({ model: MODEL, messages: user("determinism"), seed });
    const [a, b, c] = await Promise.all([ask(1), ask(1), ask(2)]);
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    expect(a.choices[0]!.message.content).not.toBe(c.choices[0]!.message.content);

    const stream = await client.chat.completions.create({ model: MODEL, messages: user("determinism"), seed: 1, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(a.choices[0]!.message.content);
    expect(chunks.at(-1)!.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    expect(chunks.every((c) => !("usage" in c) && c.object === "chat.completion.chunk")).toBe(true);
  });

  it("stops at max_tokens with finish_reason length, and reports usage only when asked", async () => {
    const res = await client.chat.completions.create({ model: MODEL, messages: user("one two"), max_completion_tokens: 5 });
    expect(res.choices[0]!.finish_reason).toBe("length");
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });

    const raw = await postJson(`${engine.url}/v1/chat/completions`, {
      model: MODEL,
      messages: user("one two"),
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(raw.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const data = sseData((await readRaw(raw)).text);
    expect(data.at(-1)).toBe("[DONE]");
    const events = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(events).toHaveLength(1 + 5 + 1 + 1);
    expect(events.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } });
    expect(events.slice(0, -1).every((e) => e.usage === null)).toBe(true);
  });

  it("honours stop strings, streaming or not", async () => {
    const base = (await client.chat.completions.create({ model: MODEL, messages: user("stop test"), seed: 4 })).choices[0]!.message
      .content!;
    const stop = ` ${base.split(" ")[3]}`;
    const want = base.slice(0, base.indexOf(stop));
    const res = await client.chat.completions.create({ model: MODEL, messages: user("stop test"), seed: 4, stop: [stop, "zzz"] });
    expect(res.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: want } });
    const stream = await client.chat.completions.create({ model: MODEL, messages: user("stop test"), seed: 4, stop, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(want);
  });

  it("returns n choices, each its own sequence", async () => {
    const one = await client.chat.completions.create({ model: MODEL, messages: user("many"), max_tokens: 6 });
    const two = await client.chat.completions.create({ model: MODEL, messages: user("many"), max_tokens: 6, n: 2 });
    expect(two.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(two.choices[0]!.message.content).toBe(one.choices[0]!.message.content);
    expect(two.choices[1]!.message.content).not.toBe(one.choices[0]!.message.content);
    expect(two.usage!.completion_tokens).toBe(12);
  });

  it("serves text completions for one prompt or several", async () => {
    const res = await client.completions.create({ model: MODEL, prompt: ["a b c", "d e"], max_tokens: 4 });
    expect(res.id).toMatch(/^cmpl-/);
    expect(res).toMatchObject({ object: "text_completion", usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 } });
    expect(res.choices.map((c) => [c.index, c.finish_reason])).toEqual([
      [0, "length"],
      [1, "length"],
    ]);
    const stream = await client.completions.create({ model: MODEL, prompt: "a b c", max_tokens: 4, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(res.choices[0]!.text);
  });

  it("tokenizes as vLLM's /tokenize does, with the count its usage reports", async () => {
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "say something nice" },
    ];
    const { data } = await client.chat.completions.create({ model: MODEL, messages: messages as never, max_tokens: 2 }).withResponse();
    const chat = await postJson(`${engine.url}/tokenize`, { model: MODEL, messages });
    expect(chat.status).toBe(200);
    expect(await chat.json()).toMatchObject({ count: data.usage!.prompt_tokens, max_model_len: 512 });
    const text = await postJson(`${engine.url}/tokenize`, { model: MODEL, prompt: "a b c" });
    expect(((await text.json()) as { count: number }).count).toBe(3);
    expect((await postJson(`${engine.url}/tokenize`, { model: "other", prompt: "a" })).status).toBe(404);
    expect((await postJson(`${engine.url}/tokenize`, { model: MODEL })).status).toBe(400);
  });

  it("embeds deterministically as unit vectors, base64 or float", async () => {
    const res = await client.embeddings.create({ model: EMBED, input: ["hello world", "x"] });
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const v = Array.from(res.data[0]!.embedding);
    expect(v).toHaveLength(16);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    const float = await client.embeddings.create({ model: EMBED, input: "hello world", encoding_format: "float" });
    expect(float.data[0]!.embedding.map((x) => x.toFixed(5))).toEqual(v.map((x) => x.toFixed(5)));
    const small = await client.embeddings.create({ model: EMBED, input: "hello", dimensions: 8, encoding_format: "float" });
    expect(small.data[0]!.embedding).toHaveLength(8);
  });

  it("answers errors in OpenAI's shape", async () => {
    await expect(client.chat.completions.create({ model: "nope", messages: user("x") })).rejects.toMatchObject({
      status: 404,
      code: "model_not_found",
    });
    await expect(client.embeddings.create({ model: MODEL, input: "x" })).rejects.toMatchObject({ status: 404, code: "model_not_found" });
    const long = "word ".repeat(600);
    await expect(client.chat.completions.create({ model: MODEL, messages: user(long) })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("maximum context length"),
    });
    await expect(client.completions.create({ model: MODEL, prompt: "a", max_tokens: 600 })).rejects.toMatchObject({ status: 400 });
    const bad = await fetch(`${engine.url}/v1/chat/completions`, { method: "POST", body: "{nope" });
    expect([bad.status, (await bad.json()).error.type]).toEqual([400, "invalid_request_error"]);
    const missing = await fetch(`${engine.url}/v2/nothing`);
    expect([missing.status, (await missing.json()).error.code]).toEqual([404, "not_found"]);
  });
});

describe("metrics and lifetime", () => {
  it("counts tokens and requests with vLLM's names", async () => {
    const before = await metricValue(engine.metricsUrl, "vllm:generation_tokens_total");
    const sent = await metricValue(engine.metricsUrl, "meshgate_sim_requests_total", 'path="/v1/completions"');
    await client.completions.create({ model: MODEL, prompt: "m", max_tokens: 3 });
    expect(await metricValue(engine.metricsUrl, "vllm:generation_tokens_total")).toBe(before + 3);
    expect(await metricValue(engine.metricsUrl, "meshgate_sim_requests_total", 'path="/v1/completions"')).toBe(sent + 1);
    const text = await (await fetch(engine.metricsUrl)).text();
    expect(text).toContain("# TYPE vllm:num_requests_running gauge");
    expect(text).toContain(`vllm:prompt_tokens_total{model_name="${MODEL}"}`);
  });

  it("shows requests beyond maxRunning as waiting, and closes without waiting for stalled streams", async () => {
    const small = await startSimEngine({ model: MODEL, maxRunning: 1, ttftMs: 0, tokensPerSecond: 0 });
    small.setMode({ mode: "stall_after_n", n: 0, ms: 60_000 });
    const pending = [1, 2, 3].map(() => postJson(`${small.url}/v1/completions`, { model: MODEL, prompt: "x", stream: true }));
    await Promise.all(pending);
    expect(await metricValue(small.metricsUrl, "vllm:num_requests_running")).toBe(1);
    expect(await metricValue(small.metricsUrl, "vllm:num_requests_waiting")).toBe(2);
    expect(await metricValue(small.metricsUrl, "vllm:gpu_cache_usage_perc")).toBe(1);
    const started = Date.now();
    await small.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("stops generating as soon as the client hangs up", async () => {
    engine.setMode({ mode: "trickle", interval_ms: 25 });
    const before = await metricValue(engine.metricsUrl, "vllm:generation_tokens_total");
    const abort = new AbortController();
    const res = await postJson(
      `${engine.url}/v1/completions`,
      { model: MODEL, prompt: "a", max_tokens: 40, ignore_eos: true, stream: true },
      { signal: abort.signal },
    );
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await new Promise((r) => setTimeout(r, 150));
    engine.setMode({ mode: "ok" });
    const generated = (await metricValue(engine.metricsUrl, "vllm:generation_tokens_total")) - before;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(10);
    expect(await metricValue(engine.metricsUrl, "vllm:num_requests_running")).toBe(0);
  });
});
