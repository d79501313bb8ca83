import { describe, expect, it } from "vitest";
import { RECEIPT_EVENT } from "../protocol/receipt";
import { UsageTap, closingEvents, errorEvent, usageChunk, type SseEvent, type TapAction, type UsageTapOptions } from "./usage-tap";
import type { TokenCounts } from "./chunks";
import { emptyTranscript } from "./continuation";

const data = (value: unknown): SseEvent => ({ data: JSON.stringify(value) });
const content = (text: string, usage: unknown = null) =>
  data({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: text }, finish_reason: null }], usage });
const finish = data({ object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null });
const usage = data({ object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } });
const done: SseEvent = { data: "[DONE]" };
const costOf = (t: TokenCounts) => `${t.promptTokens}p+${t.completionTokens}c`;

function run(events: SseEvent[], options: UsageTapOptions = { includeUsage: false }) {
  const tap = new UsageTap(options);
  const actions: TapAction[] = events.map((ev) => tap.consume(ev));
  return { tap, actions, outcome: tap.outcome() };
}
const rewritten = (a: TapAction | undefined) => (a?.kind === "rewrite" ? (JSON.parse(a.data) as Record<string, unknown>) : undefined);

describe("UsageTap", () => {
  it("keeps usage, delivered tokens, finish and [DONE] from a complete stream", () => {
    const { outcome, tap } = run([content("a"), content(""), content(" b"), finish, usage, done]);
    expect(outcome).toMatchObject({
      reported: { promptTokens: 4, completionTokens: 2 },
      deliveredTokens: 2,
      finishSeen: true,
      doneSeen: true,
      upstreamError: null,
    });
    expect(tap.ended).toBe(true);
  });

  it("counts reasoning and tool-call deltas like content", () => {
    const reasoning = data({ choices: [{ index: 0, delta: { reasoning: "hm" } }] });
    const tool = data({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{}" } }] } }] });
    expect(run([reasoning, tool, content("x")]).outcome.deliveredTokens).toBe(3);
  });

  it("strips usage the client did not ask for, and drops the usage chunk", () => {
    const { actions } = run([content("a", { prompt_tokens: 1, completion_tokens: 1 }), content("b"), usage]);
    expect(rewritten(actions[0])).not.toHaveProperty("usage");
    expect(rewritten(actions[0])).toMatchObject({ choices: [{ delta: { content: "a" } }] });
    expect(rewritten(actions[1])).not.toHaveProperty("usage");
    expect(actions[2]).toEqual({ kind: "drop" });
  });

  it("forwards usage when asked, with the charge added to the usage chunk", () => {
    const { actions, outcome } = run([content("a"), usage], { includeUsage: true, costOf });
    expect(actions[0]).toEqual({ kind: "forward" });
    expect(rewritten(actions[1])).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, cost: "4p+2c" } });
    expect(outcome.usageForwarded).toBe(true);
    expect(run([usage], { includeUsage: true }).actions[0]).toEqual({ kind: "forward" });
  });

  it("drops malformed events and counts them", () => {
    const { actions, outcome } = run([{ data: "{not json" }, { data: "[1,2]" }, content("a")], { includeUsage: true });
    expect(actions.map((a) => a.kind)).toEqual(["drop", "drop", "forward"]);
    expect(outcome.malformedDropped).toBe(2);
  });

  it("takes the receipt event out of the stream, even after [DONE]", () => {
    const { actions, outcome } = run([content("a"), done, { event: RECEIPT_EVENT, data: '{"receipt":1}' }]);
    expect(actions.slice(1).map((a) => a.kind)).toEqual(["drop", "drop"]);
    expect(outcome.receipt).toBe('{"receipt":1}');
  });

  it("stops at an upstream error event and keeps its message", () => {
    const { actions, outcome, tap } = run([content("a"), data({ error: { message: "engine overloaded" } }), content("late"), done]);
    expect(actions.slice(1).map((a) => a.kind)).toEqual(["drop", "drop", "drop"]);
    expect(outcome).toMatchObject({ upstreamError: { message: "engine overloaded" }, deliveredTokens: 1, doneSeen: false });
    expect(tap.ended).toBe(true);
    expect(run([data({ error: "boom" })]).outcome.upstreamError).toEqual({ message: null });
  });

  it("forwards nothing after [DONE]", () => {
    const { actions, outcome } = run([done, content("late")]);
    expect(actions[1]).toEqual({ kind: "drop" });
    expect(outcome.deliveredTokens).toBe(0);
  });
});

describe("closingEvents", () => {
  const opts = { includeUsage: true, costOf, idleDeadlineMs: 30_000 };
  const outcomeOf = (events: SseEvent[], includeUsage = true) => run(events, { includeUsage, costOf }).outcome;

  it("ends a complete stream with [DONE], and owes no usage chunk already forwarded", () => {
    expect(closingEvents(outcomeOf([content("a"), finish, usage, done]), "closed", opts)).toEqual({
      complete: true,
      errorCode: null,
      events: ["[DONE]"],
    });
  });

  it("adds the usage chunk, with its charge, when usage came only in-band", () => {
    const closing = closingEvents(outcomeOf([content("a", { prompt_tokens: 3, completion_tokens: 1 }), finish]), "closed", opts);
    expect(closing.complete).toBe(true);
    expect(closing.events).toEqual([usageChunk({ promptTokens: 3, completionTokens: 1 }, costOf), "[DONE]"]);
    expect(JSON.parse(closing.events[0]!)).toMatchObject({ choices: [], usage: { total_tokens: 4, cost: "3p+1c" } });
    const unasked = closingEvents(outcomeOf([content("a", { prompt_tokens: 3, completion_tokens: 1 }), finish], false), "closed", {
      ...opts,
      includeUsage: false,
    });
    expect(unasked.events).toEqual(["[DONE]"]);
  });

  it("finishes a stream that closed after its finish_reason, but not one that failed there", () => {
    const finished = outcomeOf([content("a"), finish]);
    expect(closingEvents(finished, "closed", opts).complete).toBe(true);
    expect(closingEvents(finished, "failed", opts)).toMatchObject({ complete: false, errorCode: "upstream_stream_ended" });
  });

  it("names why a stream was cut", () => {
    const cut = outcomeOf([content("a")]);
    expect(closingEvents(cut, "closed", opts)).toEqual({
      complete: false,
      errorCode: "upstream_stream_ended",
      events: [errorEvent("upstream_stream_ended", "The provider's stream ended before the answer was complete.")],
    });
    const idle = closingEvents(cut, "idle", opts);
    expect(idle.errorCode).toBe("upstream_idle_timeout");
    expect(JSON.parse(idle.events[0]!)).toEqual({
      error: { message: expect.stringContaining("30000 ms"), type: "server_error", param: null, code: "upstream_idle_timeout" },
    });
    const failedUpstream = closingEvents(
      outcomeOf([content("a"), finish, data({ error: { message: "engine overloaded" } })]),
      "closed",
      opts,
    );
    expect(failedUpstream.errorCode).toBe("upstream_error");
    expect(failedUpstream.events[0]).toContain("engine overloaded");
  });
});

describe("UsageTap splicing a continuation", () => {
  const first = { id: "chatcmpl-1", created: 7, model: "m" };
  const part2 = (c: Record<string, unknown>) => data({ id: "chatcmpl-2", created: 9, model: "m", ...c });

  it("notes the first stream's identity and text", () => {
    const transcript = emptyTranscript();
    const tap = new UsageTap({ includeUsage: false }, { transcript });
    tap.consume(data({ ...first, choices: [{ index: 0, delta: { role: "assistant", content: "" } }] }));
    tap.consume(data({ ...first, choices: [{ index: 0, delta: { content: "amber" } }] }));
    expect(transcript).toMatchObject({ ...first, text: "amber" });
  });

  it("rewrites the continuation to the first stream's id, drops its role chunk, reports the summed usage", () => {
    const transcript = { ...emptyTranscript(), ...first, text: "amber" };
    const tap = new UsageTap(
      { includeUsage: true, costOf, carried: { promptTokens: 5, completionTokens: 20 } },
      { transcript, into: first },
    );
    const role = tap.consume(part2({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }));
    const text = tap.consume(part2({ choices: [{ index: 0, delta: { content: " basalt" }, finish_reason: null }] }));
    const fin = tap.consume(part2({ choices: [{ index: 0, delta: {}, finish_reason: "length" }] }));
    const use = tap.consume(part2({ choices: [], usage: { prompt_tokens: 26, completion_tokens: 20, total_tokens: 46 } }));
    expect(role).toEqual({ kind: "drop" });
    expect(rewritten(text)).toMatchObject({ id: "chatcmpl-1", created: 7, choices: [{ index: 0, delta: { content: " basalt" } }] });
    expect(rewritten(fin)).toMatchObject({ id: "chatcmpl-1" });
    expect(rewritten(use)).toMatchObject({
      id: "chatcmpl-1",
      usage: { prompt_tokens: 31, completion_tokens: 40, total_tokens: 71, cost: "26p+20c" },
    });
    // Billing reads the part's own counts.
    expect(tap.outcome()).toMatchObject({ reported: { promptTokens: 26, completionTokens: 20 }, deliveredTokens: 1 });
    expect(transcript.text).toBe("amber basalt");
  });

  it("owes the summed usage chunk when the continuation reported usage only in-band", () => {
    const owed = usageChunk({ promptTokens: 26, completionTokens: 20 }, undefined, { promptTokens: 5, completionTokens: 20 });
    expect(JSON.parse(owed)).toMatchObject({ usage: { prompt_tokens: 31, completion_tokens: 40, total_tokens: 71 } });
  });

  it("names the total deadline in its error event", () => {
    const t = run([content("a")]).outcome;
    const c = closingEvents(t, "deadline", { includeUsage: false, idleDeadlineMs: 1, totalDeadlineMs: 900 });
    expect(c).toMatchObject({ complete: false, errorCode: "deadline_exceeded" });
    expect(c.events[0]).toContain("900 ms");
  });
});
