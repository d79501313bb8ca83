/**
 * The tap's fast path (./plain-chunk.ts): a plain content chunk is decided without JSON.parse and
 * goes on as it came; every decision equals the full parse's. The oracle is the same stream
 * pretty-printed: whitespace never matches the fast path, so those events take the full parse.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RECEIPT_EVENT } from "../protocol/receipt";
import { emptyTranscript } from "./continuation";
import { type SseEvent, type TapAction, UsageTap } from "./usage-tap";

const head = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1_700_000_000, model: "m" };
const content = (text: string) => ({
  ...head,
  choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }],
  usage: null,
});
const finish = { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }], usage: null };
const usage = { ...head, choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } };

afterEach(() => vi.restoreAllMocks());

function run(events: SseEvent[], includeUsage: boolean) {
  const transcript = emptyTranscript();
  const tap = new UsageTap({ includeUsage, costOf: (t) => `${t.promptTokens}:${t.completionTokens}` }, { transcript });
  const actions = events.map((ev) => tap.consume(ev));
  return { actions, outcome: tap.outcome(), transcript };
}
/** What the client gets of an event, as JSON (null: nothing). */
const sent = (ev: SseEvent, a: TapAction) => (a.kind === "drop" ? null : JSON.parse(a.kind === "rewrite" ? a.data : ev.data));

describe("UsageTap, fast path", () => {
  it("forwards a content chunk as it came, without JSON.parse", () => {
    const data = JSON.stringify(content("PLACEHOLDER")).replace("PLACEHOLDER", "caf\\u00e9 \\/ ok");
    const transcript = emptyTranscript();
    transcript.id = "chatcmpl-1"; // the identity came with an earlier chunk
    const parse = vi.spyOn(JSON, "parse");
    const withUsage = new UsageTap({ includeUsage: true }, { transcript });
    expect(withUsage.consume({ data })).toEqual({ kind: "forward" });
    const without = new UsageTap({ includeUsage: false }, { transcript });
    // `"usage":null` removed from the bytes as they came: the escapes keep their spelling.
    expect(without.consume({ data })).toEqual({ kind: "rewrite", data: data.replace(',"usage":null}', "}") });
    expect(parse.mock.calls.filter(([text]) => text === data)).toHaveLength(0);
    expect(withUsage.outcome().deliveredTokens).toBe(1);
    expect(transcript.text).toBe("café / okcafé / ok");
  });

  it("still parses the first chunk for the answer's identity, and what carries usage, finish_reason or the receipt", () => {
    const events = [content("a"), content("b"), finish, usage].map((c) => ({ data: JSON.stringify(c) }));
    const { outcome, transcript, actions } = run([...events, { data: "[DONE]" }, { event: RECEIPT_EVENT, data: "r1" }], true);
    expect(transcript).toMatchObject({ id: "chatcmpl-1", created: 1_700_000_000, model: "m", text: "ab", finishSeen: true });
    expect(outcome).toMatchObject({
      deliveredTokens: 2,
      finishSeen: true,
      doneSeen: true,
      receipt: "r1",
      reported: { promptTokens: 7, completionTokens: 3 },
    });
    expect(JSON.parse((actions[3] as { data: string }).data).usage).toMatchObject({ prompt_tokens: 7, cost: "7:3" });
    expect(actions.slice(4)).toEqual([{ kind: "drop" }, { kind: "drop" }]);
  });

  it("decides every stream as the full parse does", () => {
    const text = fc.oneof(fc.constant(""), fc.string(), fc.string({ unit: "binary" }));
    const chunk = fc.oneof(
      { weight: 6, arbitrary: text.map(content) },
      { weight: 1, arbitrary: fc.constant(finish) },
      { weight: 1, arbitrary: fc.constant(usage) },
      { weight: 1, arbitrary: text.map((t) => ({ ...content(t), choices: [{ index: 0, delta: { reasoning: t }, finish_reason: null }] })) },
      { weight: 1, arbitrary: text.map((t) => ({ ...content(t), usage: undefined })) },
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 12 }), fc.boolean(), (chunks, includeUsage) => {
        const fast = chunks.map((c) => ({ data: JSON.stringify(c) }));
        const full = chunks.map((c) => ({ data: JSON.stringify(c, null, 1) }));
        const a = run(fast, includeUsage);
        const b = run(full, includeUsage);
        expect(a.outcome).toEqual(b.outcome);
        expect(a.transcript).toEqual(b.transcript);
        expect(fast.map((ev, i) => sent(ev, a.actions[i]!))).toEqual(full.map((ev, i) => sent(ev, b.actions[i]!)));
      }),
      { numRuns: 150 },
    );
  });
});
