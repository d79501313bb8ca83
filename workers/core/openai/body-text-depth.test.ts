/** nestsDeeperThan jumps over strings with indexOf; it must judge every text as the character loop did. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nestsDeeperThan } from "./body-text";

/** The loop it replaced, character by character. */
function reference(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

describe("nestsDeeperThan", () => {
  it("judges any text of quotes, backslashes and brackets as the character loop did", () => {
    const text = fc.array(fc.constantFrom('"', "\\", "[", "]", "{", "}", "a", ",", ":"), { maxLength: 40 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 4 }), (t, max) => {
        expect(nestsDeeperThan(t, max)).toBe(reference(t, max));
      }),
      { numRuns: 3_000 },
    );
  });

  it("skips brackets inside strings with escaped quotes and backslashes", () => {
    expect(nestsDeeperThan('{"a":"[[[\\"[[[","b":"\\\\"}', 1)).toBe(false);
    expect(nestsDeeperThan('{"a":"\\\\",  "b":[[1]]}', 2)).toBe(true);
    expect(nestsDeeperThan('{"a":"unterminated [[[[', 1)).toBe(false);
  });
});
