/** The relay's hot path: content chunks pass through as their bytes, and a stream costs no timer per chunk. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { RECEIPT_EVENT } from "../../core/protocol/receipt";
import { relayStream, type RelayOutcome } from "./relay";

const enc = new TextEncoder();
const head = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1_700_000_000, model: "m" };
const event = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;
/** A content chunk whose escapes a re-encoding would spell differently. */
const chunk = (i: number) =>
  event({ ...head, choices: [{ index: 0, delta: { content: `tok${i}` }, logprobs: null, finish_reason: null }], usage: null }).replace(
    `tok${i}`,
    `t\\u00f6k\\/${i}`,
  );
/** vLLM opens with the role: the chunk that also tells the answer's identity (parsed). */
const role = event({
  ...head,
  choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
  usage: null,
});
const finish = event({ ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }] });
const usage = event({ ...head, choices: [], usage: { prompt_tokens: 5, completion_tokens: 64, total_tokens: 69 } });
const receipt = `event: ${RECEIPT_EVENT}\ndata: signed-receipt\n\n`;

afterEach(() => vi.restoreAllMocks());

/** Relays `reads` (the first one as `first`), one upstream read each; the client reads to the end. */
async function relay(reads: string[], includeUsage: boolean) {
  const [first, ...rest] = reads.map((r) => enc.encode(r));
  let i = 0;
  const upstream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < rest.length) c.enqueue(rest[i++]!);
      else c.close();
    },
  });
  let outcome: RelayOutcome | undefined;
  const body = relayStream({
    first: first!,
    reader: upstream.getReader(),
    abortUpstream: () => undefined,
    includeUsage,
    idleDeadlineMs: 30_000,
    keepaliveMs: 15_000,
    now: Date.now,
    deadlineAtMs: Date.now() + 600_000,
    totalDeadlineMs: 600_000,
    onFinish: (o) => {
      outcome = o;
    },
  });
  const text = await new Response(body).text();
  return { text, outcome: outcome! };
}

describe("relayStream, hot path", () => {
  const content = Array.from({ length: 64 }, (_, i) => chunk(i));

  it("passes content chunks through byte for byte, and still handles finish_reason, usage and the receipt", async () => {
    const { text, outcome } = await relay([...content, finish, usage, "data: [DONE]\n\n", receipt], true);
    expect(text.startsWith(content.join(""))).toBe(true);
    expect(text.slice(content.join("").length)).toBe(`${finish}${usage}data: [DONE]\n\n`);
    expect(outcome).toMatchObject({
      complete: true,
      deliveredTokens: 64,
      receipt: "signed-receipt",
      reported: { promptTokens: 5, completionTokens: 64 },
    });
  });

  it("removes usage the client did not ask for from the bytes as they came", async () => {
    const { text, outcome } = await relay([role, ...content, finish, usage, "data: [DONE]\n\n", receipt], false);
    const stripped = [role, ...content].map((c) => c.replace(',"usage":null}', "}")).join("");
    expect(text.startsWith(stripped)).toBe(true);
    expect(text).not.toContain('"usage"');
    expect(outcome).toMatchObject({ complete: true, deliveredTokens: 64, receipt: "signed-receipt" });
  });

  it("reads chunks split across network reads, and several in one read", async () => {
    const wire = [...content.slice(0, 8), finish, "data: [DONE]\n\n", receipt].join("");
    const reads = [wire.slice(0, 3), wire.slice(3, 200), wire.slice(200, 201), wire.slice(201, 900), wire.slice(900)];
    const { text, outcome } = await relay(reads, true);
    expect(text).toBe(`${content.slice(0, 8).join("")}${finish}data: [DONE]\n\n`);
    expect(outcome).toMatchObject({ complete: true, deliveredTokens: 8, receipt: "signed-receipt" });
  });

  it("sets no timer per chunk", async () => {
    const timers = vi.spyOn(globalThis, "setTimeout");
    const { outcome } = await relay([...content, finish, usage, "data: [DONE]\n\n", receipt], false);
    expect(outcome.deliveredTokens).toBe(64);
    expect(timers.mock.calls.length).toBeLessThanOrEqual(3);
  });
});
