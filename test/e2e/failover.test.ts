/** Faults injected into the simulated engines: what the client sees, through the real SDK. */
import OpenAI, { type APIError } from "openai";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { byId, engineRequests, resetNetwork, sdk, setMode } from "../support/network-client";

const dev = inject("dev");
const client = sdk(dev);
const model = dev.model;
const simA = byId(dev, "sim-a");
const ask = { model, messages: [{ role: "user" as const, content: "tell me a story" }], max_tokens: 12 };

beforeEach(() => resetNetwork(dev));

async function generation(id: string) {
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${dev.baseURL}/generation?id=${id}`, { headers: { authorization: `Bearer ${dev.apiKey}` } });
    if (res.status === 200) return ((await res.json()) as { data: Record<string, unknown> }).data;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no generation ${id}`);
}

describe("failover before the first byte", () => {
  it.each([
    ["a refused connection", { mode: "refuse" }],
    ["a 500", { mode: "status_before_first_byte", status: 500 }],
    ["a 503", { mode: "status_before_first_byte", status: 503 }],
  ])("moves on from %s to the next cheapest provider, streaming and not", async (_name, mode) => {
    await setMode(simA, mode);
    const { data, response } = await client.chat.completions.create(ask).withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    expect(response.headers.get("x-meshgate-provider")).toBe("sim-b");
    expect(response.headers.get("x-meshgate-attempts")).toBe("2");
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    expect(text.trim().split(" ")).toHaveLength(12);
  });

  it("abandons a provider that stalls before the first byte within the deadline", async () => {
    await setMode(simA, { mode: "stall_before_first_byte", ms: 20_000 });
    const started = Date.now();
    const { response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
    expect(response.headers.get("x-meshgate-provider")).toBe("sim-b");
    // E2E deadline is 1.5 s (TTFT_DEADLINE_MS); sim-b answers in tens of ms.
    expect(Date.now() - started).toBeLessThan(1500 + 1000);
  });

  it("does not hammer a rate-limited provider: the next one serves", async () => {
    await setMode(simA, { mode: "status_before_first_byte", status: 429, retry_after: 60 });
    const a0 = await engineRequests(simA);
    const { response } = await client.chat.completions.create(ask).withResponse();
    expect(response.headers.get("x-meshgate-provider")).toBe("sim-b");
    expect(await engineRequests(simA)).toBe(a0 + 1);
  });

  it("opens the circuit of a failing provider, and closes it when the provider recovers", async () => {
    await setMode(simA, { mode: "status_before_first_byte", status: 500 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create(ask);
    const a0 = await engineRequests(simA);
    const { response } = await client.chat.completions.create(ask).withResponse();
    expect(response.headers.get("x-meshgate-attempts")).toBe("1"); // sim-a skipped: circuit open
    expect(await engineRequests(simA)).toBe(a0);
    await resetNetwork(dev); // engine ok again; the probe closes the circuit
    const back = await client.chat.completions.create(ask).withResponse();
    expect(back.response.headers.get("x-meshgate-provider")).toBe("sim-a");
  });
});

describe("after the first byte there is no silent retry", () => {
  // Opted out of mid-stream continuation (on by default: test/e2e/continuation.test.ts).
  const noContinuation = { provider: { continuation: false } } as object;
  it("a provider dropping mid-stream ends the stream with an error event, billed as partial", async () => {
    await setMode(simA, { mode: "drop_after_n", n: 3 });
    const { data: stream, response } = await client.chat.completions.create({ ...ask, ...noContinuation, stream: true }).withResponse();
    const received: string[] = [];
    const err = await (async () => {
      for await (const c of stream) received.push(c.choices[0]?.delta.content ?? "");
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const tokens = received.filter((t) => t !== "");
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.length).toBeLessThan(12);
    // Billed for exactly what was delivered.
    const gen = await generation(response.headers.get("x-request-id")!);
    expect(gen).toMatchObject({
      status: "partial",
      provider: "sim-a",
      tokens_completion: tokens.length,
      error_code: "upstream_stream_ended",
    });
  });

  it("a stream that goes silent is cut after the idle deadline with an error event", async () => {
    await setMode(simA, { mode: "stall_after_n", n: 2, ms: 20_000 });
    const stream = await client.chat.completions.create({ ...ask, ...noContinuation, stream: true });
    const started = Date.now();
    const err = await (async () => {
      for await (const _ of stream) {
        /* drain */
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as APIError).message).toMatch(/silent/);
    expect(Date.now() - started).toBeLessThan(2500 + 1500);
  });

  it("drops a malformed upstream chunk instead of forwarding it", async () => {
    await setMode(simA, { mode: "malformed_chunk", n: 2 });
    const res = await fetch(`${dev.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${dev.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ ...ask, stream: true }),
    });
    const raw = await res.text();
    const events = raw
      .split("\n\n")
      .filter((e) => e.startsWith("data: "))
      .map((e) => e.slice(6));
    expect(events.at(-1)).toBe("[DONE]");
    for (const e of events.slice(0, -1)) expect(() => JSON.parse(e)).not.toThrow();
  });

  it("sends keep-alive comments while a stream is quiet, and the SDK ignores them", async () => {
    await setMode(simA, { mode: "trickle", interval_ms: 1_200 });
    const res = await fetch(`${dev.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${dev.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ ...ask, max_tokens: 3, stream: true }),
    });
    const raw = await res.text();
    expect(raw).toContain(": keep-alive");
    expect(raw.trim().endsWith("data: [DONE]")).toBe(true);
  });
});
