/** The estimate counts an all-ASCII text with one regex test instead of a loop; the counts must not move. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { estimatePromptTokens } from "./estimate";

/** The per-character count it replaced: ceil(ASCII / 4) + one per other UTF-16 unit. */
function reference(s: string): number {
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) < 0x80) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 4) + other;
}

describe("estimatePromptTokens, text counts", () => {
  it("counts ASCII, non-ASCII and mixed prompts as before", () => {
    const text = fc.oneof(fc.string({ unit: "binary-ascii" }), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }));
    fc.assert(
      fc.property(text, (s) => {
        expect(estimatePromptTokens({ prompt: s })).toBe(Math.max(1, reference(s)));
      }),
      { numRuns: 500 },
    );
  });

  it("counts a long ASCII prompt by its length", () => {
    expect(estimatePromptTokens({ prompt: "x".repeat(400_001) })).toBe(100_001);
    expect(estimatePromptTokens({ prompt: `${"x".repeat(400)}é` })).toBe(101);
  });
});
