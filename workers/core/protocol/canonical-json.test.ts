import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json";

describe("canonicalJson", () => {
  it("sorts keys at every depth and writes no whitespace", () => {
    const a = { b: 1, a: { d: [3, { z: true, y: null }], c: "x" } };
    const b = { a: { c: "x", d: [3, { y: null, z: true }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it("keeps array order and escapes strings as JSON does", () => {
    expect(canonicalJson([2, 1, 'é\n"', -0, 0.1, 1e21])).toBe('[2,1,"é\\n\\"",0,0.1,1e+21]');
  });

  it("does not depend on key insertion order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
      }),
    );
  });

  it("is unchanged by a JSON round trip, and parses back to the same value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it("leaves out undefined properties, as JSON.stringify does", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it.each([
    ["a bigint", 1n],
    ["a nested bigint", { price: 1n }],
    ["NaN", NaN],
    ["Infinity", { x: Infinity }],
    ["undefined", undefined],
    ["an undefined array item", [1, undefined]],
    ["a sparse array", [1, , 3]],
    ["a function", () => 1],
    ["a symbol", Symbol("x")],
    ["a Date", new Date(0)],
    ["a Map", new Map()],
  ])("rejects %s", (_, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});
