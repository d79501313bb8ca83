/**
 * Early headers: a stream whose first byte is slow gets `200 text/event-stream` after
 * EARLY_HEADERS_MS and `: keep-alive` comments every KEEPALIVE_MS (500 ms here) while failover
 * goes on behind them; the answer then arrives on the same response. A request that fails after
 * the headers went out ends with the stream's error event; a non-streamed request never commits early.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import worker from "../../workers/index";
import { chatRequest, engine, env, newKey, PROVIDERS, registerProviders, resetNetwork, setMode } from "../support/workerd/gateway";

const [A, B] = PROVIDERS;
let k: Awaited<ReturnType<typeof newKey>>;

beforeAll(async () => {
  await registerProviders();
  k = await newKey("Early headers");
  await resetNetwork();
});
afterEach(resetNetwork);

/** Sends one request with its own configuration; resolves when the headers came, with a reader of the body's events. */
async function send(body: Record<string, unknown>, over: Record<string, string>) {
  const ctx = createExecutionContext();
  const started = Date.now();
  const res = await worker.fetch(chatRequest(k.secret, { max_tokens: 5, ...body }), { ...env, ...over }, ctx);
  const headersAfterMs = Date.now() - started;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  /** Every SSE block as it arrived, with when. */
  const blocks: { atMs: number; text: string }[] = [];
  let buffered = "";
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    buffered += decoder.decode(r.value, { stream: true });
    const parts = buffered.split("\n\n");
    buffered = parts.pop() ?? "";
    for (const text of parts) blocks.push({ atMs: Date.now() - started, text });
  }
  await waitOnExecutionContext(ctx);
  return { res, headersAfterMs, blocks };
}

const dataOf = (blocks: { text: string }[]) => blocks.filter((b) => b.text.startsWith("data: ")).map((b) => b.text.slice(6));

describe("a stream whose first byte is slow", () => {
  it("gets its headers at EARLY_HEADERS_MS and keep-alives while failover goes on, then the whole answer", async () => {
    // wk-a (the cheaper) stalls past the 1 s TTFT deadline; wk-b answers the failover at once.
    await setMode(engine(A.id), { mode: "stall_before_first_byte", ms: 20_000, times: 1 });
    const { res, headersAfterMs, blocks } = await send({ stream: true }, { EARLY_HEADERS_MS: "200" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("x-meshgate-early-headers")).toBe("true");
    expect(headersAfterMs).toBeLessThan(900); // long before wk-a's deadline (1 s) let failover start
    const firstData = blocks.findIndex((b) => b.text.startsWith("data: "));
    const comments = blocks.slice(0, firstData).filter((b) => b.text === ": keep-alive");
    expect(comments.length).toBeGreaterThanOrEqual(2); // one at once, one per 500 ms of the wait
    expect(blocks[firstData]!.atMs).toBeGreaterThanOrEqual(1_000);
    const events = dataOf(blocks);
    expect(events.at(-1)).toBe("[DONE]");
    const text = events
      .slice(0, -1)
      .map((d) => JSON.parse(d) as { choices?: { delta?: { content?: string } }[] })
      .map((c) => c.choices?.[0]?.delta?.content ?? "")
      .join("");
    expect(text.trim().split(" ")).toHaveLength(5);
    expect(events.some((d) => d.includes('"error"'))).toBe(false);
  });

  it("ends with the error event, not a status, when every provider fails after the headers went out", async () => {
    for (const p of PROVIDERS) await setMode(engine(p.id), { mode: "stall_before_first_byte", ms: 20_000, times: 1 });
    const { res, blocks } = await send({ stream: true }, { EARLY_HEADERS_MS: "200", TOTAL_DEADLINE_MS: "1500" });
    expect(res.status).toBe(200);
    const events = dataOf(blocks);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!)).toMatchObject({ error: { type: "timeout", code: "deadline_exceeded" } });
    expect(blocks[0]!.text).toBe(": keep-alive");
  });

  it("commits nothing early for a fast stream, nor for a non-streamed request", async () => {
    const fast = await send({ stream: true }, { EARLY_HEADERS_MS: "200" });
    expect(fast.res.headers.get("x-meshgate-early-headers")).toBeNull();
    expect(fast.res.headers.get("x-meshgate-provider")).toBe(A.id);
    await setMode(engine(A.id), { mode: "stall_before_first_byte", ms: 20_000, times: 1 });
    const json = await send({ stream: false }, { EARLY_HEADERS_MS: "200" });
    expect(json.res.status).toBe(200);
    expect(json.res.headers.get("x-meshgate-early-headers")).toBeNull();
    expect(json.res.headers.get("x-meshgate-provider")).toBe(B.id);
    expect(json.res.headers.get("content-type")).toContain("application/json");
  });
});
