import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkProgress, parseChunk, readUsage } from "./chunks";
import { plainChunk, withoutNullUsage } from "./plain-chunk";

const head = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1_700_000_000, model: "org/llama-3.1-8b" };
const chat = (content: unknown, extra: Record<string, unknown> = {}, choice: Record<string, unknown> = {}) =>
  JSON.stringify({ ...head, choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null, ...choice }], ...extra });

describe("plainChunk", () => {
  it.each([
    ["vLLM with usage null", chat(" hi", { usage: null }), " hi", true],
    ["vLLM without usage", chat(" hi"), " hi", false],
    [
      "the role chunk",
      JSON.stringify({ ...head, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] }),
      "",
      false,
    ],
    [
      "OpenAI's fields",
      JSON.stringify({ ...head, system_fingerprint: "fp_1", choices: [{ index: 0, delta: { content: "x" }, finish_reason: null }] }),
      "x",
      false,
    ],
    ["vLLM's stop_reason", chat("y", {}, { stop_reason: null }), "y", false],
    [
      "a completions chunk",
      JSON.stringify({ ...head, object: "text_completion", choices: [{ index: 0, text: "t", logprobs: null, finish_reason: null }] }),
      "t",
      false,
    ],
    [
      "no head at all",
      JSON.stringify({
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta: { content: "z" }, finish_reason: null }],
        usage: null,
      }),
      "z",
      true,
    ],
    ["escapes", chat('a"b\\c\n\u00e9\u2028😀'), 'a"b\\c\n\u00e9\u2028😀', false],
    ["escapes spelt by hand", chat("PLACEHOLDER").replace("PLACEHOLDER", "\\u00e9\\/\\t"), "é/\t", false],
  ])("reads %s", (_, data, text, nullUsage) => {
    expect(plainChunk(data)).toEqual({ text, nullUsage });
  });

  it.each([
    ["a finish_reason", chat("", {}, { finish_reason: "stop" })],
    ["a usage object", chat("a", { usage: { prompt_tokens: 1, completion_tokens: 1 } })],
    ["usage not last", JSON.stringify({ ...head, usage: null, choices: [{ index: 0, delta: { content: "a" }, finish_reason: null }] })],
    ["two choices", JSON.stringify({ ...head, choices: [0, 1].map((index) => ({ index, delta: { content: "a" }, finish_reason: null })) })],
    ["choice 1", chat("a", {}, { index: 1 })],
    ["a tool call", JSON.stringify({ ...head, choices: [{ index: 0, delta: { tool_calls: [] }, finish_reason: null }] })],
    ["reasoning", JSON.stringify({ ...head, choices: [{ index: 0, delta: { reasoning: "hm" }, finish_reason: null }] })],
    [
      "content beside reasoning",
      JSON.stringify({ ...head, choices: [{ index: 0, delta: { content: "a", reasoning: "hm" }, finish_reason: null }] }),
    ],
    ["content null", chat(null)],
    ["an error", JSON.stringify({ error: { message: "boom" } })],
    ["an unknown field", chat("a", { extra: 1 })],
    ["whitespace", JSON.stringify(JSON.parse(chat("a")), null, 1)],
    ["an invalid escape", chat("PLACEHOLDER").replace("PLACEHOLDER", "\\q")],
    ["a raw control character", chat("PLACEHOLDER").replace("PLACEHOLDER", "\u0001")],
    ["a leading zero", chat("a").replace("1700000000", "01")],
    ["an escaped id", chat("a").replace("chatcmpl-1", 'chat\\"cmpl')],
    ["trailing bytes", `${chat("a")}}`],
    ["a prefix", ` ${chat("a")}`],
    ["not an object", "[DONE]"],
  ])("leaves %s to the full parse", (_, data) => {
    expect(plainChunk(data)).toBeNull();
  });

  it("decides as the full parse does, for any chunk it reads", () => {
    const value = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constant(null), fc.integer());
    const choice = fc.record(
      {
        index: fc.constantFrom(0, 1),
        delta: fc.record({ role: fc.constant("assistant"), content: value }, { requiredKeys: [] }),
        logprobs: fc.constant(null),
        finish_reason: fc.constantFrom(null, "stop"),
      },
      { requiredKeys: ["index"] },
    );
    const chunk = fc.record(
      {
        id: fc.string(),
        object: fc.constant("chat.completion.chunk"),
        created: fc.nat(),
        model: fc.string(),
        choices: fc.array(choice, { maxLength: 2 }),
        usage: fc.constantFrom(null, { prompt_tokens: 3, completion_tokens: 1 }),
      },
      { requiredKeys: ["choices"] },
    );
    let read = 0;
    fc.assert(
      fc.property(chunk, (c) => {
        const data = JSON.stringify(c);
        const plain = plainChunk(data);
        if (!plain) return;
        read++;
        const parsed = parseChunk(data)!;
        const progress = chunkProgress(parsed);
        expect(progress).toEqual({ deliveredTokens: plain.text === "" ? 0 : 1, finished: false });
        expect(readUsage(parsed.usage)).toBeNull();
        expect((parsed.choices as { delta: { content: string } }[])[0]!.delta.content).toBe(plain.text);
        expect(plain.nullUsage).toBe("usage" in parsed);
        if (plain.nullUsage) {
          const { usage: _, ...rest } = parsed;
          expect(withoutNullUsage(data)).toBe(JSON.stringify(rest));
        }
      }),
      { numRuns: 3_000 },
    );
    expect(read).toBeGreaterThan(5); // the fast path was taken often enough to mean something
  });

  it("strips only the trailing null usage, keeping the bytes before it as they came", () => {
    const data = chat("PLACEHOLDER", { usage: null }).replace("PLACEHOLDER", "\\u00e9");
    expect(withoutNullUsage(data)).toBe(data.replace(',"usage":null}', "}"));
  });
});
