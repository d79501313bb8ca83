import { describe, expect, it } from "vitest";
import { ApiError } from "./errors";
import { ChatRequest, CompletionRequest, parseBody } from "./schemas";
import { paramName } from "./validation";

const fail = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as ApiError;
  }
  throw new Error("did not throw");
};

describe("request schemas", () => {
  it("keep fields they do not interpret", () => {
    const body = parseBody(ChatRequest, {
      model: "m",
      messages: [{ role: "user", content: "hi", extra: 1 }],
      tools: [{ type: "function" }],
      response_format: { type: "json_object" },
      logprobs: true,
    });
    expect(body).toMatchObject({ tools: [{ type: "function" }], response_format: { type: "json_object" }, logprobs: true });
    expect(body.messages[0]).toMatchObject({ extra: 1 });
  });
  it("accept content parts and null assistant content", () => {
    expect(() =>
      parseBody(ChatRequest, {
        model: "m",
        messages: [
          { role: "user", content: [{ type: "text", text: "a" }] },
          { role: "assistant", content: null, tool_calls: [] },
        ],
      }),
    ).not.toThrow();
  });
  it("name the offending param the way OpenAI does", () => {
    expect(fail(() => parseBody(ChatRequest, { messages: [{ role: "user", content: "x" }] }))).toMatchObject({
      status: 400,
      param: "model",
      code: "missing_required_parameter",
    });
    expect(fail(() => parseBody(ChatRequest, { model: "m", messages: [{ role: "x" }] })).param).toBe("messages[0].role");
    expect(fail(() => parseBody(ChatRequest, { model: "m", messages: [{ role: "user" }], max_tokens: -1 })).param).toBe("max_tokens");
    expect(fail(() => parseBody(CompletionRequest, { model: "m" })).param).toBe("prompt");
    expect(fail(() => parseBody(ChatRequest, [1, 2]))).toMatchObject({
      status: 400,
      code: "invalid_type",
      param: null,
      message: "The request body must be a JSON object, but got an array instead.",
    });
  });
  it("paramName", () => {
    expect(paramName(["messages", 0, "content", 1, "text"])).toBe("messages[0].content[1].text");
    expect(paramName([])).toBeNull();
  });
});
