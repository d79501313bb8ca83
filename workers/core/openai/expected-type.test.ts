import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeSchema, describeValues, isCoercing, listOf, schemaAt, unionOptions } from "./expected-type";
import { ChatRequest, EmbeddingRequest } from "./schemas";

describe("describeSchema", () => {
  it("names types as OpenAI does, past optional, nullable, default and pipe wrappers", () => {
    expect(describeSchema(z.number().int().positive().nullable().optional())).toBe("an integer");
    expect(describeSchema(z.number().default(1))).toBe("a number");
    expect(describeSchema(z.string().transform((s) => s.length))).toBe("a string");
    expect(describeSchema(z.preprocess((v) => v, z.boolean()))).toBe("a boolean");
    expect(describeSchema(z.enum(["a", "b"]))).toBe("a string");
    expect(describeSchema(z.record(z.string(), z.number()))).toBe("an object");
  });
  it("lists a union's shapes, arrays by their elements", () => {
    expect(describeSchema(EmbeddingRequest.shape.input)).toBe(
      "one of a string, an array of strings, an array of integers or an array of arrays of integers",
    );
    expect(describeSchema(z.union([z.string(), z.null()]))).toBe("a string or null");
    expect(describeSchema(z.union([z.string(), z.unknown()]))).toBeUndefined();
  });
});

describe("schemaAt", () => {
  it("follows objects and arrays, and stops at a union", () => {
    expect(describeSchema(schemaAt(ChatRequest, ["messages", 0, "role"])!)).toBe("a string");
    expect(describeSchema(schemaAt(ChatRequest, ["max_tokens"])!)).toBe("an integer");
    expect(unionOptions(schemaAt(ChatRequest, ["messages", 0, "content"]))).toHaveLength(3);
    expect(schemaAt(ChatRequest, ["messages", 0, "content", 0, "type"])).toBeUndefined();
    expect(schemaAt(ChatRequest, ["no_such_field"])).toBeUndefined();
  });
  it("knows a coercing schema", () => {
    expect(isCoercing(schemaAt(z.object({ n: z.coerce.number().int().optional() }), ["n"]))).toBe(true);
    expect(isCoercing(schemaAt(z.object({ n: z.number() }), ["n"]))).toBe(false);
  });
});

describe("describeValues and listOf", () => {
  it("name what an enum's values share, and join a list", () => {
    expect(describeValues(["a", "b"])).toBe("a string");
    expect(describeValues([1, 2])).toBe("an integer");
    expect(describeValues(["a", 1])).toBeUndefined();
    expect([listOf(["a"]), listOf(["a", "b"]), listOf(["a", "b", "c"])]).toEqual(["a", "a or b", "a, b or c"]);
  });
});
