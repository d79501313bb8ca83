/** The OpenAI-compatible surface, driven by the real openai SDK against the local network. */
import OpenAI, { type APIError } from "openai";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { admin, byId, engineRequests, resetNetwork, sdk, setMode } from "../support/network-client";

const dev = inject("dev");
const client = sdk(dev);
const model = dev.model;

beforeEach(() => resetNetwork(dev));

describe("chat completions", () => {
  it("serves from the cheapest healthy provider, with usage and the meshgate headers", async () => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "Say hello" }], max_tokens: 8 })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]?.message.content?.split(" ").length).toBe(8);
    expect(data.choices[0]?.finish_reason).toBe("length");
    expect(data.usage).toMatchObject({ completion_tokens: 8 });
    expect(response.headers.get("x-meshgate-provider")).toBe("sim-a");
    expect(response.headers.get("x-meshgate-attempts")).toBe("1");
    expect(response.headers.get("x-request-id")).toMatch(/^gen-/);
    expect(Number(response.headers.get("x-meshgate-overhead-ms"))).toBeGreaterThanOrEqual(0);
  });

  it("streams chunk by chunk and sends usage only when asked", async () => {
    const withUsage = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Count" }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of withUsage) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text.trim().split(" ")).toHaveLength(6);
    expect(chunks.at(-1)?.usage).toMatchObject({ completion_tokens: 6 });

    const without = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Count" }],
      max_tokens: 6,
      stream: true,
    });
    const plain = [];
    for await (const c of without) plain.push(c);
    expect(plain.every((c) => !c.usage)).toBe(true);
    expect(plain.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(text); // deterministic engine
  });

  it("passes OpenAI fields it does not interpret through to the provider", async () => {
    const a = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "x" }],
      seed: 7,
      max_tokens: 5,
      user: "u1",
    });
    const b = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], seed: 8, max_tokens: 5 });
    expect(a.choices[0]?.message.content).not.toBe(b.choices[0]?.message.content); // seed reached the engine
    const n2 = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], n: 2, max_tokens: 3 });
    expect(n2.choices).toHaveLength(2);
  });

  it("records the generation, readable as soon as the response ended", async () => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "bill me" }], max_tokens: 4 })
      .withResponse();
    const id = response.headers.get("x-request-id")!;
    const gen = await fetch(`${dev.baseURL}/generation?id=${id}`, { headers: { authorization: `Bearer ${dev.apiKey}` } });
    expect(gen.status).toBe(200);
    const body = (await gen.json()) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({
      id,
      provider: "sim-a",
      tokens_prompt: data.usage!.prompt_tokens,
      tokens_completion: 4,
      status: "ok",
      attempts: 1,
    });
    // sim-a: 0.10 in / 0.20 out USDC per M → pico per token 100_000 / 200_000
    expect(BigInt(body.data.cost_pico as string)).toBe(BigInt(data.usage!.prompt_tokens) * 100_000n + 4n * 200_000n);
  });
});

describe("other endpoints", () => {
  it("legacy completions, streaming and not", async () => {
    const r = await client.completions.create({ model, prompt: "Once upon", max_tokens: 5 });
    expect(r.object).toBe("text_completion");
    expect(r.usage?.completion_tokens).toBe(5);
    const s = await client.completions.create({ model, prompt: "Once upon", max_tokens: 5, stream: true });
    let text = "";
    for await (const c of s) text += c.choices[0]?.text ?? "";
    expect(text).toBe(r.choices[0]?.text);
  });

  it("embeddings from the only provider that serves the embedding model", async () => {
    const { data, response } = await client.embeddings.create({ model: dev.embeddingModel, input: ["a", "b"] }).withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(response.headers.get("x-meshgate-provider")).toBe("sim-b");
  });

  it("lists models with price ranges and retrieves one", async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining([model, dev.embeddingModel]));
    const one = (await client.models.retrieve(model)) as unknown as {
      id: string;
      providers: number;
      pricing: { prompt: { min: string; max: string } };
    };
    expect(one.id).toBe(model);
    expect(one.providers).toBe(3);
    expect(one.pricing.prompt).toEqual({ min: "0.1", max: "0.4" });
    await expect(client.models.retrieve("no/such-model")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("errors have OpenAI's shape and the right status", () => {
  it("401 for a missing or wrong key, without retry", async () => {
    const err = await sdk(dev, "mg-wrong")
      .chat.completions.create({ model, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as APIError).code).toBe("invalid_api_key");
    const res = await fetch(`${dev.baseURL}/models`);
    expect(res.status).toBe(401);
    expect(res.headers.get("x-should-retry")).toBe("false");
  });

  it("400 naming the offending param", async () => {
    const err = (await client.chat.completions.create({ model, messages: [] }).catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe("messages");
    const bad = (await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "x" }], temperature: 9 })
      .catch((e: unknown) => e)) as APIError;
    expect(bad.status).toBe(400);
    expect(bad.param).toBe("temperature");
    const role = (await client.chat.completions
      .create({ model, messages: [{ role: "wizard" as "user", content: "x" }] })
      .catch((e: unknown) => e)) as APIError;
    expect(role.param).toBe("messages[0].role");
    // With retries on, the SDK sends a 400 once (x-should-retry: false) and surfaces its code and param.
    let sent = 0;
    const retrying = new OpenAI({
      baseURL: dev.baseURL,
      apiKey: dev.apiKey,
      maxRetries: 2,
      fetch: (url, init) => {
        sent++;
        return fetch(url, init);
      },
    });
    const typed = (await retrying.chat.completions
      .create({ model, messages: [{ role: "user", content: "x" }], max_tokens: "3" as unknown as number })
      .catch((e: unknown) => e)) as APIError;
    expect(typed).toBeInstanceOf(OpenAI.BadRequestError);
    expect({ code: typed.code, param: typed.param, sent }).toEqual({ code: "invalid_type", param: "max_tokens", sent: 1 });
  });

  it("400 for invalid JSON and 413 for an oversized body, as JSON errors", async () => {
    const headers = { authorization: `Bearer ${dev.apiKey}`, "content-type": "application/json" };
    const broken = await fetch(`${dev.baseURL}/chat/completions`, { method: "POST", headers, body: "{not json" });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { type: "invalid_request_error", code: "invalid_json" } });
    const huge = await fetch(`${dev.baseURL}/chat/completions`, {
      method: "POST",
      headers,
      body: JSON.stringify({ model, messages: [{ role: "user", content: "x".repeat(11 * 1024 * 1024) }] }),
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { code: "request_too_large" } });
  });

  it("404 model_not_found for an unknown model", async () => {
    const err = (await client.chat.completions
      .create({ model: "no/such-model", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe("model_not_found");
  });

  it("400 context_length_exceeded when no provider's context fits, without reaching any engine", async () => {
    const before = await engineRequests(byId(dev, "sim-a"));
    const err = (await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "word ".repeat(40_000) }] })
      .catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(400);
    expect(err.code).toBe("context_length_exceeded");
    expect(await engineRequests(byId(dev, "sim-a"))).toBe(before);
  });

  it("a provider's 400 reaches the client with its reason and is not retried elsewhere", async () => {
    await setMode(byId(dev, "sim-a"), {
      mode: "status_before_first_byte",
      status: 400,
      message: "This model's maximum context length is 8192 tokens",
    });
    const b0 = await engineRequests(byId(dev, "sim-b"));
    const err = (await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain("maximum context length");
    expect(await engineRequests(byId(dev, "sim-b"))).toBe(b0);
  });

  it("429 with retry-after when every provider is rate-limited", async () => {
    for (const p of dev.providers) await setMode(p, { mode: "status_before_first_byte", status: 429, retry_after: 30 });
    const { response } = await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "x" }] })
      .withResponse()
      .catch((e: APIError) => ({ response: e }));
    const err = response as unknown as APIError;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(err.headers?.get("retry-after"))).toBeGreaterThan(0);
  });

  it("503 when no provider is healthy (all suspended), 502 when all fail", async () => {
    for (const p of dev.providers) await admin(dev, "POST", `/admin/v1/providers/${p.id}/suspend`, { reason: "test" });
    await new Promise((r) => setTimeout(r, 600)); // one route-table refresh
    const none = (await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e)) as APIError;
    expect(none.status).toBe(503);
    expect(none.code).toBe("no_provider_available");
    await resetNetwork(dev);
    for (const p of dev.providers) await setMode(p, { mode: "status_before_first_byte", status: 500, times: 1 });
    const failed = (await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e)) as APIError;
    expect(failed.status).toBe(502);
    expect(failed.headers?.get("x-request-id")).toMatch(/^gen-/);
  });
});

describe("steering with the provider object and fallback models", () => {
  it("order, only, ignore and max_price choose the provider", async () => {
    const served = async (provider: Record<string, unknown>) => {
      const { response } = await client.chat.completions
        .create({
          model,
          messages: [{ role: "user", content: "x" }],
          max_tokens: 2,
          provider,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .withResponse();
      return response.headers.get("x-meshgate-provider");
    };
    expect(await served({ order: ["sim-c"] })).toBe("sim-c");
    expect(await served({ only: ["sim-b", "sim-c"] })).toBe("sim-b");
    expect(await served({ ignore: ["sim-a"] })).toBe("sim-b");
    expect(await served({ sort: "latency" })).not.toBe(undefined);
    const err = (await client.chat.completions
      .create({
        model,
        messages: [{ role: "user", content: "x" }],
        provider: { max_price: { prompt: 0.01 } },
      } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(404);
    expect(err.code).toBe("no_provider_matches");
  });

  it("falls back across models and names the model that answered", async () => {
    const r = await client.chat.completions.create({
      model: "no/such-model",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 2,
      models: [model],
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(r.model).toBe(model);
  });
});
