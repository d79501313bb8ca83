import { describe, expect, it } from "vitest";
import { chunkProgress, contentDeltas, hasFinished, parseChunk, readUsage } from "./chunks";

const chat = (...deltas: unknown[]) => ({
  object: "chat.completion.chunk",
  choices: deltas.map((delta, index) => ({ index, delta, finish_reason: null })),
});

describe("contentDeltas", () => {
  it("counts one per choice that carries content", () => {
    expect(contentDeltas(chat({ role: "assistant", content: "Hel" }))).toBe(1);
    expect(contentDeltas(chat({ content: "a" }, { content: "b" }, { content: "" }))).toBe(2);
  });

  it("counts reasoning under either name, once per choice", () => {
    expect(contentDeltas(chat({ reasoning: "think" }))).toBe(1);
    expect(contentDeltas(chat({ reasoning_content: "think" }))).toBe(1);
    expect(contentDeltas(chat({ reasoning: "think", reasoning_content: "think", content: "" }))).toBe(1);
  });

  it("counts tool-call deltas, not empty tool_calls arrays", () => {
    expect(contentDeltas(chat({ tool_calls: [{ index: 0, function: { arguments: "{" } }] }))).toBe(1);
    expect(contentDeltas(chat({ tool_calls: [] }))).toBe(0);
  });

  it("counts completions' text", () => {
    expect(
      contentDeltas({
        object: "text_completion",
        choices: [
          { index: 0, text: "a" },
          { index: 1, text: "" },
        ],
      }),
    ).toBe(1);
  });

  it("counts nothing for empty deltas, role-only deltas, usage chunks and the finish chunk", () => {
    expect(contentDeltas(chat({}, { role: "assistant", content: "" }, { content: null, reasoning: null, tool_calls: null }))).toBe(0);
    expect(contentDeltas({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } })).toBe(0);
    expect(contentDeltas({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })).toBe(0);
  });

  it("reads garbage as nothing, without hiding the good fields beside it", () => {
    for (const garbage of [null, undefined, 7, "x", [], { choices: "x" }, { choices: [null, 3, "a"] }, chat(5), chat({ content: 5 })]) {
      expect(contentDeltas(garbage)).toBe(0);
    }
    expect(contentDeltas(chat({ content: 5, tool_calls: "x", reasoning: "r" }))).toBe(1);
    expect(contentDeltas({ choices: [null, { delta: { content: "a" } }, { delta: "x", text: "b" }] })).toBe(2);
  });
});

describe("hasFinished", () => {
  it("sees a finish_reason on any choice", () => {
    expect(
      hasFinished({
        choices: [
          { delta: { content: "a" }, finish_reason: null },
          { delta: {}, finish_reason: "length" },
        ],
      }),
    ).toBe(true);
    expect(hasFinished(chat({ content: "a" }))).toBe(false);
    expect(hasFinished({ choices: [{ finish_reason: "" }, { finish_reason: 1 }] })).toBe(false);
  });
});

describe("chunkProgress", () => {
  it("agrees with contentDeltas and hasFinished", () => {
    const chunks = [
      chat({ content: "a" }, { reasoning: "b" }),
      { choices: [{ delta: { content: "x" }, finish_reason: "stop" }] },
      { choices: [] },
      "garbage",
    ];
    for (const c of chunks) expect(chunkProgress(c)).toEqual({ deliveredTokens: contentDeltas(c), finished: hasFinished(c) });
    expect(chunkProgress(chunks[1])).toEqual({ deliveredTokens: 1, finished: true });
  });
});

describe("readUsage", () => {
  it("reads chat and embeddings usage", () => {
    expect(readUsage({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 })).toEqual({ promptTokens: 4, completionTokens: 2 });
    expect(readUsage({ prompt_tokens: 4, total_tokens: 4 })).toEqual({ promptTokens: 4, completionTokens: 0 });
    expect(readUsage({ prompt_tokens: 4, completion_tokens: null })).toEqual({ promptTokens: 4, completionTokens: 0 });
  });

  it("refuses counts that cannot be billed", () => {
    for (const bad of [
      null,
      undefined,
      "x",
      [],
      {},
      { completion_tokens: 2 },
      { prompt_tokens: "4" },
      { prompt_tokens: -1, completion_tokens: 0 },
      { prompt_tokens: 1.5 },
      { prompt_tokens: 4, completion_tokens: "2" },
    ]) {
      expect(readUsage(bad)).toBeNull();
    }
  });
});

describe("parseChunk", () => {
  it("returns the event's JSON object, or null", () => {
    expect(parseChunk('{"choices":[]}')).toEqual({ choices: [] });
    for (const bad of ["{not json", "[1]", "null", "3", '"s"', ""]) expect(parseChunk(bad)).toBeNull();
  });
});
