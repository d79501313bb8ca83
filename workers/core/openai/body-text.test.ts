import { describe, expect, it } from "vitest";
import { decodeUtf8, isJsonMediaType, MAX_JSON_DEPTH, nestsDeeperThan } from "./body-text";

describe("isJsonMediaType", () => {
  it.each([
    ["application/json", true],
    ["application/json; charset=utf-8", true],
    ["Application/JSON;charset=UTF-8", true],
    [" application/json ", true],
    ["text/plain", false],
    ["text/plain;charset=UTF-8", false],
    ["application/x-www-form-urlencoded", false],
    ["multipart/form-data; boundary=x", false],
    ["application/jsonp", false],
    ["", false],
    [null, false],
    [undefined, false],
  ])("%s → %s", (type, expected) => {
    expect(isJsonMediaType(type)).toBe(expected);
  });
});

describe("decodeUtf8", () => {
  it("decodes valid UTF-8, multi-byte characters included", () => {
    expect(decodeUtf8(new TextEncoder().encode('{"a":"héllo ✓ 🙂"}'))).toBe('{"a":"héllo ✓ 🙂"}');
  });
  it.each([
    ["a lone continuation byte", [0x22, 0x80, 0x22]],
    ["a truncated sequence", [0x22, 0xe2, 0x82, 0x22]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a byte never valid", [0xff]],
  ])("refuses %s rather than replacing it", (_, bytes) => {
    expect(decodeUtf8(new Uint8Array(bytes))).toBeNull();
  });
});

describe("nestsDeeperThan", () => {
  const nested = (n: number) => "[".repeat(n) + "]".repeat(n);
  it("allows the limit and refuses one more", () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
  });
  it("counts objects and arrays alike, and depth, not the number of siblings", () => {
    expect(nestsDeeperThan('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(nestsDeeperThan('{"a":[{"b":[1]}]}', 4)).toBe(false);
    expect(nestsDeeperThan(`[${"[],".repeat(10_000)}[]]`, 2)).toBe(false);
  });
  it("ignores brackets inside strings, escaped quotes included", () => {
    expect(nestsDeeperThan(JSON.stringify({ s: "[[[[[[{{{{" }), 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ s: 'a "quoted" [[[[ \\' }), 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ s: '\\"', t: [[1]] }), 2)).toBe(true);
  });
  it("scans 100,000 levels without recursion", () => {
    expect(nestsDeeperThan(nested(100_000), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan("[".repeat(100_000), MAX_JSON_DEPTH)).toBe(true);
  });
});
