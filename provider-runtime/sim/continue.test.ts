/** vLLM's continue_final_message in the simulated engine: the same deterministic answer goes on after the prefill. */
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSimEngine, type SimEngine } from "./engine";
import { postJson } from "./testing";

const MODEL = "meshgate/sim-llama-8b";
let engine: SimEngine;
let client: OpenAI;
const messages = [{ role: "user" as const, content: "tell me a story" }];

beforeAll(async () => {
  engine = await startSimEngine({
    port: 0,
    model: MODEL,
    embeddingModel: "e",
    ttftMs: 0,
    tokensPerSecond: 0,
    contextLength: 512,
    name: "unit",
  });
  client = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: "sim", maxRetries: 0 });
});
afterAll(() => engine.close());
afterEach(() => engine.setMode({ mode: "ok" }));

const chat = (body: Record<string, unknown>) => postJson(`${engine.url}/v1/chat/completions`, { model: MODEL, ...body });

describe("continue_final_message", () => {
  it("continues the final assistant message where the prefill ends, streaming or not", async () => {
    const full = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 40, ignore_eos: true } as never);
    const text = (full as OpenAI.ChatCompletion).choices[0]!.message.content!;
    const words = text.split(" ");
    const prefill = words.slice(0, 20).join(" ");
    const body = {
      messages: [...messages, { role: "assistant", content: prefill }],
      max_tokens: 20,
      ignore_eos: true,
      continue_final_message: true,
      add_generation_prompt: false,
    };
    const json = (await (await chat(body)).json()) as OpenAI.ChatCompletion;
    expect(prefill + json.choices[0]!.message.content).toBe(text);
    expect(json.usage).toMatchObject({ completion_tokens: 20, prompt_tokens: 5 + 20 + 1 });
    const stream = await client.chat.completions.create({ model: MODEL, ...body, stream: true } as never);
    let streamed = "";
    for await (const c of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) streamed += c.choices[0]?.delta.content ?? "";
    expect(prefill + streamed).toBe(text);
  });

  it("refuses it together with add_generation_prompt, or without a final assistant message, as vLLM does", async () => {
    const both = await chat({
      messages: [...messages, { role: "assistant", content: "a" }],
      continue_final_message: true,
      add_generation_prompt: true,
    });
    expect(both.status).toBe(400);
    const noAssistant = await chat({ messages, continue_final_message: true, add_generation_prompt: false });
    expect(noAssistant.status).toBe(400);
  });

  it("reject_prefill: an engine that does not continue a final message answers 400, other requests as usual", async () => {
    engine.setMode({ mode: "reject_prefill" });
    const refused = await chat({
      messages: [...messages, { role: "assistant", content: "a" }],
      continue_final_message: true,
      add_generation_prompt: false,
    });
    expect(refused.status).toBe(400);
    expect((await chat({ messages })).status).toBe(200);
  });
});
