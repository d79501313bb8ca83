import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ApiError } from "./errors";
import { ChatRequest, CompletionRequest, EmbeddingRequest, parseBody } from "./schemas";
import { describeValue, fromZod, paramName, validate } from "./validation";

/** The error a failing parse throws, as the client sees it. */
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    expect(e.status).toBe(400);
    expect(e.headers["x-should-retry"]).toBe("false");
    return e.toJSON().error;
  }
  throw new Error("did not throw");
};
const messages = [{ role: "user", content: "hi" }];
const chat = (over: Record<string, unknown>) => refusal(() => parseBody(ChatRequest, { model: "m", messages, ...over }));
const said = (param: string | null, code: string, message: string) => ({ type: "invalid_request_error", param, code, message });

describe("a required field that is absent", () => {
  it("is missing_required_parameter, in OpenAI's words", () => {
    expect(refusal(() => parseBody(ChatRequest, { model: "m" }))).toEqual(
      said("messages", "missing_required_parameter", "Missing required parameter: 'messages'."),
    );
    expect(chat({ messages: [{ content: "x" }] })).toEqual(
      said("messages[0].role", "missing_required_parameter", "Missing required parameter: 'messages[0].role'."),
    );
    expect(chat({ model: undefined })).toMatchObject({ param: "model", code: "missing_required_parameter" });
  });
  it("covers a union field and a field inside a union's branch", () => {
    expect(refusal(() => parseBody(CompletionRequest, { model: "m" }))).toMatchObject({
      param: "prompt",
      code: "missing_required_parameter",
    });
    expect(chat({ messages: [{ role: "user", content: [{ text: "a" }] }] })).toEqual(
      said("messages[0].content[0].type", "missing_required_parameter", "Missing required parameter: 'messages[0].content[0].type'."),
    );
  });
});

describe("a field of the wrong type", () => {
  it("names the expected type (from the schema) and what was sent", () => {
    expect(chat({ max_tokens: "3" })).toEqual(
      said("max_tokens", "invalid_type", "Invalid type for 'max_tokens': expected an integer, but got a string instead."),
    );
    expect(chat({ max_tokens: 3.5 })).toEqual(
      said("max_tokens", "invalid_type", "Invalid type for 'max_tokens': expected an integer, but got a decimal instead."),
    );
    expect(chat({ model: null })).toEqual(
      said("model", "invalid_type", "Invalid type for 'model': expected a string, but got null instead."),
    );
    expect(chat({ messages: "hi" })).toEqual(
      said("messages", "invalid_type", "Invalid type for 'messages': expected an array of objects, but got a string instead."),
    );
    expect(chat({ messages: [{ role: 5 }] })).toEqual(
      said("messages[0].role", "invalid_type", "Invalid type for 'messages[0].role': expected a string, but got an integer instead."),
    );
  });
  it("lists a union's accepted shapes", () => {
    expect(refusal(() => parseBody(EmbeddingRequest, { model: "m", input: 5 }))).toEqual(
      said(
        "input",
        "invalid_type",
        "Invalid type for 'input': expected one of a string, an array of strings, an array of integers or an array of arrays of integers, but got an integer instead.",
      ),
    );
    expect(chat({ stop: { a: 1 } })).toEqual(
      said("stop", "invalid_type", "Invalid type for 'stop': expected a string or an array of strings, but got an object instead."),
    );
    expect(chat({ messages: [{ role: "user", content: 5 }] })).toMatchObject({
      param: "messages[0].content",
      message: "Invalid type for 'messages[0].content': expected one of a string, an array of objects or null, but got an integer instead.",
    });
  });
  it("follows the union branch that got furthest", () => {
    expect(refusal(() => parseBody(CompletionRequest, { model: "m", prompt: [[1, "a"]] }))).toEqual(
      said("prompt[0][1]", "invalid_type", "Invalid type for 'prompt[0][1]': expected an integer, but got a string instead."),
    );
    expect(refusal(() => parseBody(CompletionRequest, { model: "m", prompt: [] }))).toEqual(
      said("prompt", "invalid_value", "Invalid value for 'prompt': must have at least 1 item."),
    );
  });
  it("without the schema, falls back to zod's expected type", () => {
    const schema = z.object({ n: z.number().int() });
    const input = { n: "3" };
    const error = schema.safeParse(input).error!;
    expect(fromZod(error, input).message).toBe("Invalid type for 'n': expected a number, but got a string instead.");
    expect(fromZod(error, input, schema).message).toBe("Invalid type for 'n': expected an integer, but got a string instead.");
  });
});

describe("a value that is not allowed", () => {
  it("names the limit it broke", () => {
    expect(chat({ temperature: 5 })).toEqual(said("temperature", "invalid_value", "Invalid value for 'temperature': must be at most 2."));
    expect(chat({ max_tokens: 0 })).toEqual(said("max_tokens", "invalid_value", "Invalid value for 'max_tokens': must be greater than 0."));
    expect(chat({ messages: [] })).toEqual(said("messages", "invalid_value", "Invalid value for 'messages': must have at least 1 item."));
    expect(chat({ stop: ["a", "b", "c", "d", "e"] })).toMatchObject({ message: "Invalid value for 'stop': must have at most 4 items." });
    expect(chat({ model: "" })).toMatchObject({ message: "Invalid value for 'model': must have at least 1 character." });
    expect(refusal(() => validate(z.object({ n: z.number().multipleOf(5) }), { n: 3 }))).toMatchObject({
      message: "Invalid value for 'n': must be a multiple of 5.",
    });
  });
  it("lists an enum's, a literal union's or a discriminator's options", () => {
    expect(chat({ messages: [{ role: "robot" }] })).toEqual(
      said(
        "messages[0].role",
        "invalid_value",
        "Invalid value for 'messages[0].role': must be one of 'system', 'developer', 'user', 'assistant', 'tool' or 'function'.",
      ),
    );
    expect(refusal(() => validate(z.object({ k: z.union([z.literal("a"), z.literal("b")]) }), { k: "c" }))).toMatchObject({
      param: "k",
      message: "Invalid value for 'k': must be one of 'a' or 'b'.",
    });
    expect(refusal(() => validate(z.object({ k: z.literal("a") }), { k: "c" }))).toMatchObject({
      message: "Invalid value for 'k': must be 'a'.",
    });
    const Tagged = z.object({ t: z.discriminatedUnion("kind", [z.object({ kind: z.literal("x") }), z.object({ kind: z.literal("y") })]) });
    expect(refusal(() => validate(Tagged, { t: { kind: "z" } }))).toEqual(
      said("t.kind", "invalid_value", "Invalid value for 't.kind': must be one of 'x' or 'y'."),
    );
  });
  it("says which format a string must have, or the author's own words", () => {
    const Ids = z.object({
      id: z.uuid().optional(),
      url: z.url().optional(),
      day: z.iso.date().optional(),
      code: z
        .string()
        .regex(/^[a-z]+$/)
        .optional(),
    });
    expect(refusal(() => validate(Ids, { id: "nope" }))).toEqual(said("id", "invalid_value", "Invalid value for 'id': must be a UUID."));
    expect(refusal(() => validate(Ids, { url: "nope" }))).toMatchObject({ message: "Invalid value for 'url': must be a URL." });
    expect(refusal(() => validate(Ids, { day: "2026-02-31" }))).toMatchObject({
      message: "Invalid value for 'day': must be a date (YYYY-MM-DD).",
    });
    expect(refusal(() => validate(Ids, { code: "A1" }))).toMatchObject({
      message: "Invalid value for 'code': must match the pattern /^[a-z]+$/.",
    });
    const Authored = z.object({
      id: z.string().regex(/^[a-z]+$/, "lowercase letters only"),
      when: z.union([z.iso.date(), z.iso.datetime()], { error: "must be a date or a date-time" }),
    });
    expect(refusal(() => validate(Authored, { id: "A", when: "2026-01-01" }))).toMatchObject({
      message: "Invalid value for 'id': lowercase letters only.",
    });
    expect(refusal(() => validate(Authored, { id: "a", when: "soon" }))).toEqual(
      said("when", "invalid_value", "Invalid value for 'when': must be a date or a date-time."),
    );
  });
  it("reports a query string's text that does not coerce as the value it is", () => {
    const Page = z.object({ limit: z.coerce.number().int().min(1).optional() });
    expect(refusal(() => validate(Page, { limit: "abc" }))).toEqual(
      said("limit", "invalid_value", "Invalid value for 'limit': expected an integer, but got 'abc'."),
    );
    expect(refusal(() => validate(Page, { limit: "0" }))).toMatchObject({
      code: "invalid_value",
      message: "Invalid value for 'limit': must be at least 1.",
    });
  });
  it("gives a refinement's own message", () => {
    const Price = z.object({
      price: z.string().transform((_v, ctx) => {
        ctx.addIssue({ code: "custom", message: "not a price" });
        return z.NEVER;
      }),
    });
    expect(refusal(() => validate(Price, { price: "x" }))).toEqual(
      said("price", "invalid_value", "Invalid value for 'price': not a price."),
    );
    const Whole = z.object({ a: z.number() }).refine((o) => o.a > 1, "a must exceed 1.");
    expect(refusal(() => validate(Whole, { a: 1 }))).toEqual(
      said(null, "invalid_value", "Invalid value for the request body: a must exceed 1."),
    );
  });
});

describe("an unknown key in a strict object", () => {
  it("is unknown_parameter, naming the key", () => {
    const Query = z.strictObject({ from: z.string().optional() });
    expect(refusal(() => validate(Query, { from: "x", foo: "1", bar: "2" }))).toEqual(
      said("foo", "unknown_parameter", "Unknown parameter: 'foo'."),
    );
    expect(refusal(() => validate(z.object({ opts: z.strictObject({}) }), { opts: { x: 1 } }))).toMatchObject({
      param: "opts.x",
      code: "unknown_parameter",
    });
  });
});

describe("where the input sits in the request", () => {
  it("prefixes the param, and reads absence from the input itself", () => {
    const Payload = z.object({ id: z.string(), load: z.object({ running: z.number() }) });
    expect(refusal(() => validate(Payload, { load: { running: 1 } }, ["payload"]))).toEqual(
      said("payload.id", "missing_required_parameter", "Missing required parameter: 'payload.id'."),
    );
    expect(refusal(() => validate(Payload, { id: "p", load: { running: "1" } }, ["payload"]))).toMatchObject({
      param: "payload.load.running",
      code: "invalid_type",
    });
    expect(validate(Payload, { id: "p", load: { running: 1 }, extra: true })).toEqual({ id: "p", load: { running: 1 } });
  });
  it("names params the way OpenAI does", () => {
    expect(paramName(["messages", 0, "content", 1, "text"])).toBe("messages[0].content[1].text");
    expect(paramName([])).toBeNull();
  });
  it("describes values in OpenAI's words", () => {
    expect([1, 1.5, "s", true, null, [], {}].map(describeValue)).toEqual([
      "an integer",
      "a decimal",
      "a string",
      "a boolean",
      "null",
      "an array",
      "an object",
    ]);
  });
});
