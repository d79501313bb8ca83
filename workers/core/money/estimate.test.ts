import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { estimatePromptTokens, MEDIA_PART_TOKENS, MESSAGE_OVERHEAD_TOKENS, REPLY_PRIMING_TOKENS } from "./estimate";

const chatOverhead = (messages: number) => messages * MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS;

describe("estimatePromptTokens", () => {
  it("counts chat messages as ~chars/4 plus a per-message overhead", () => {
    const body = {
      messages: [
        { role: "system", content: "abcdefgh" },
        { role: "user", content: "abcd" },
      ],
    };
    expect(estimatePromptTokens(body)).toBe(2 + 1 + chatOverhead(2));
  });

  it("counts text parts and charges a fixed amount for media parts", () => {
    const body = {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "abcdefgh" },
            { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
          ],
        },
      ],
    };
    expect(estimatePromptTokens(body)).toBe(2 + MEDIA_PART_TOKENS + chatOverhead(1));
  });

  it("counts names, tool calls and tool definitions", () => {
    const bare = { messages: [{ role: "assistant", content: null }] };
    const withTools = {
      messages: [
        {
          role: "assistant",
          content: null,
          name: "bob",
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: '{"x":1}' } }],
        },
      ],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
    };
    expect(estimatePromptTokens(withTools)).toBeGreaterThan(estimatePromptTokens(bare) + 20);
  });

  it("counts non-ASCII text a token per unit, so CJK is not underestimated", () => {
    expect(estimatePromptTokens({ prompt: "你好世界" })).toBe(4);
    expect(estimatePromptTokens({ prompt: "abcd" })).toBe(1);
  });

  it("handles completions prompts as string, strings and token ids", () => {
    expect(estimatePromptTokens({ prompt: "a".repeat(40) })).toBe(10);
    expect(estimatePromptTokens({ prompt: ["a".repeat(8), "a".repeat(4)] })).toBe(3);
    expect(estimatePromptTokens({ prompt: [101, 102, 103] })).toBe(3);
    expect(estimatePromptTokens({ prompt: [[1, 2], [3]] })).toBe(3);
  });

  it("handles embeddings input as string, strings and token ids", () => {
    expect(estimatePromptTokens({ input: "a".repeat(9) })).toBe(3);
    expect(estimatePromptTokens({ input: ["ab", "cd"] })).toBe(2);
    expect(
      estimatePromptTokens({
        input: [
          [1, 2, 3],
          [4, 5],
        ],
      }),
    ).toBe(5);
  });

  it("never returns 0, even for empty input", () => {
    expect(estimatePromptTokens({ prompt: "" })).toBe(1);
    expect(estimatePromptTokens({ input: [] })).toBe(1);
    expect(estimatePromptTokens({})).toBe(1);
  });

  it("is at least 1 and grows with the text (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (a, extra) => {
        const base = estimatePromptTokens({ messages: [{ role: "user", content: a }] });
        expect(base).toBeGreaterThanOrEqual(1);
        expect(estimatePromptTokens({ messages: [{ role: "user", content: a + extra.repeat(4) }] })).toBeGreaterThan(base);
      }),
    );
  });

  it("is at least ceil(chars/4) for any text prompt (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        expect(estimatePromptTokens({ prompt: s })).toBeGreaterThanOrEqual(Math.ceil(s.length / 4));
      }),
    );
  });
});
