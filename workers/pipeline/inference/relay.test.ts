import { describe, expect, it } from "vitest";
import { relayStream, type RelayOutcome } from "./relay";

const enc = new TextEncoder();
const chunk = (content: string, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }], usage: null, ...extra })}\n\n`;
const finish = `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null })}\n\n`;
const usage = `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } })}\n\n`;
const done = "data: [DONE]\n\n";

/** An upstream body whose pieces arrive with the given delays (ms); "stall" never ends. */
function upstream(pieces: (string | { wait: number })[], opts: { stall?: boolean; fail?: boolean } = {}) {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    async start(c) {
      for (const p of pieces) {
        if (typeof p === "string") c.enqueue(enc.encode(p));
        else await new Promise((r) => setTimeout(r, p.wait));
      }
      if (opts.fail) c.error(new Error("connection reset"));
      else if (!opts.stall) c.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { reader: stream.getReader(), wasCancelled: () => cancelled };
}

async function run(
  pieces: (string | { wait: number })[],
  o: { includeUsage?: boolean; idleMs?: number; keepaliveMs?: number; stall?: boolean; fail?: boolean } = {},
) {
  const [first, ...rest] = pieces as string[];
  const up = upstream(rest, o);
  let outcome: RelayOutcome | undefined;
  const aborts: string[] = [];
  const body = relayStream({
    first: enc.encode(first!),
    reader: up.reader,
    abortUpstream: (r) => aborts.push(r),
    includeUsage: o.includeUsage ?? false,
    idleDeadlineMs: o.idleMs ?? 5_000,
    keepaliveMs: o.keepaliveMs ?? 5_000,
    now: Date.now,
    onFinish: (x) => {
      outcome = x;
    },
  });
  const text = await new Response(body).text();
  return { text, outcome: outcome!, aborts, events: text.split("\n\n").filter(Boolean) };
}

describe("relayStream", () => {
  it("passes a complete stream through and captures usage, hiding it when not asked for", async () => {
    const { events, outcome } = await run([chunk("a"), chunk(" b"), finish, usage, done]);
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(events.some((e) => e.includes("prompt_tokens"))).toBe(false);
    expect(events.some((e) => e.includes('"usage"'))).toBe(false);
    expect(outcome).toMatchObject({
      complete: true,
      reported: { promptTokens: 4, completionTokens: 2 },
      deliveredTokens: 2,
      errorCode: null,
    });
  });

  it("forwards the usage chunk when the client asked for it", async () => {
    const { events } = await run([chunk("a"), finish, usage, done], { includeUsage: true });
    expect(events.at(-2)).toContain('"prompt_tokens":4');
  });

  it("drops a malformed event instead of forwarding it", async () => {
    const { events, outcome } = await run([chunk("a"), "data: {not json\n\n", chunk(" b"), finish, done]);
    for (const e of events.slice(0, -1)) expect(() => JSON.parse(e.slice(6))).not.toThrow();
    expect(outcome.malformedDropped).toBe(1);
  });

  it("finalises a finished stream that ends without [DONE], with usage", async () => {
    const { events, outcome } = await run([chunk("a"), finish, usage], { includeUsage: true });
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(outcome.complete).toBe(true);
  });

  it("ends a cut stream with an error event and no [DONE]", async () => {
    const { events, outcome } = await run([chunk("a"), chunk(" b")]);
    expect(events.at(-1)).toContain('"code":"upstream_stream_ended"');
    expect(events.some((e) => e === "data: [DONE]")).toBe(false);
    expect(outcome).toMatchObject({ complete: false, deliveredTokens: 2, errorCode: "upstream_stream_ended" });
  });

  it("ends a reset stream with an error event", async () => {
    const { events, outcome } = await run([chunk("a")], { fail: true });
    expect(events.at(-1)).toContain('"error"');
    expect(outcome.complete).toBe(false);
  });

  it("relays an upstream error event and stops", async () => {
    const { events, outcome } = await run([
      chunk("a"),
      `data: ${JSON.stringify({ error: { message: "engine overloaded" } })}\n\n`,
      chunk(" late"),
    ]);
    expect(events.at(-1)).toContain("engine overloaded");
    expect(outcome.deliveredTokens).toBe(1);
  });

  it("sends keep-alives while upstream is quiet and cuts it after the idle deadline", async () => {
    const { text, outcome, aborts } = await run([chunk("a"), { wait: 10_000 }], { keepaliveMs: 40, idleMs: 150, stall: true });
    expect(text).toContain(": keep-alive");
    expect(outcome.errorCode).toBe("upstream_idle_timeout");
    expect(aborts).toContain("upstream_idle_timeout");
  });

  it("counts reasoning and tool-call deltas as delivered, and forwards them", async () => {
    const delta = (d: Record<string, unknown>) =>
      `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: d, finish_reason: null }] })}\n\n`;
    const toolCall = { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] };
    const { events, outcome } = await run([
      delta({ reasoning: "hm" }),
      delta({ reasoning_content: "so" }),
      delta(toolCall),
      delta({ content: "" }),
      chunk("a"),
      finish,
      usage,
      done,
    ]);
    expect(outcome).toMatchObject({ complete: true, deliveredTokens: 4 });
    expect(events.filter((e) => /reasoning|tool_calls/.test(e))).toHaveLength(3);
  });

  it("adds the charge to the usage chunk the client asked for", async () => {
    let outcome: RelayOutcome | undefined;
    const up = upstream([finish, usage, done]);
    const body = relayStream({
      first: enc.encode(chunk("a")),
      reader: up.reader,
      abortUpstream: () => undefined,
      includeUsage: true,
      idleDeadlineMs: 5_000,
      keepaliveMs: 5_000,
      now: Date.now,
      onFinish: (x) => {
        outcome = x;
      },
      costOf: (t) => String(t.promptTokens * 10 + t.completionTokens),
    });
    const events = (await new Response(body).text()).split("\n\n").filter(Boolean);
    expect(JSON.parse(events.at(-2)!.slice(6))).toMatchObject({ usage: { prompt_tokens: 4, cost: "42" } });
    expect(outcome?.complete).toBe(true);
  });

  it("cancels upstream when the client goes away, and reports it", async () => {
    const up = upstream([{ wait: 10_000 }], { stall: true });
    let outcome: RelayOutcome | undefined;
    const aborts: string[] = [];
    const body = relayStream({
      first: enc.encode(chunk("a")),
      reader: up.reader,
      abortUpstream: (r) => aborts.push(r),
      includeUsage: false,
      idleDeadlineMs: 5_000,
      keepaliveMs: 5_000,
      now: Date.now,
      onFinish: (x) => {
        outcome = x;
      },
    });
    const reader = body.getReader();
    await reader.read();
    await reader.cancel();
    expect(aborts).toEqual(["client_disconnected"]);
    expect(outcome).toMatchObject({ cancelledByClient: true, complete: false, deliveredTokens: 1 });
  });

  it("ends the relay when the client's request signal aborts", async () => {
    const up = upstream([{ wait: 10_000 }], { stall: true });
    const client = new AbortController();
    let outcome: RelayOutcome | undefined;
    const aborts: string[] = [];
    const body = relayStream({
      first: enc.encode(chunk("a")),
      reader: up.reader,
      abortUpstream: (r) => aborts.push(r),
      includeUsage: false,
      idleDeadlineMs: 5_000,
      keepaliveMs: 5_000,
      now: Date.now,
      onFinish: (x) => {
        outcome = x;
      },
      clientSignal: client.signal,
    });
    const reader = body.getReader();
    await reader.read();
    const pending = reader.read();
    client.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(aborts).toEqual(["client_disconnected"]);
    expect(up.wasCancelled()).toBe(true);
    expect(outcome).toMatchObject({ cancelledByClient: true, complete: false, deliveredTokens: 1 });
  });
});
