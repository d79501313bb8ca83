import { describe, expect, it } from "vitest";
import { ApiError, errors, UpstreamError } from "./errors";

describe("UpstreamError.canFailover", () => {
  it.each([
    ["connect", null, true],
    ["headers", 500, true],
    ["headers", 503, true],
    ["headers", 429, true],
    ["headers", 408, true],
    ["first_byte", null, true],
    ["headers", 301, true],
    ["headers", 302, true],
    ["headers", 307, true],
    ["headers", 308, true],
    ["headers", 200, false],
    ["headers", 400, false],
    ["headers", 404, false],
    ["headers", 422, false],
    ["body", null, false],
    ["body", 500, false],
  ] as const)("%s %s → %s", (phase, status, expected) => {
    expect(new UpstreamError("p", phase, status, "x").canFailover).toBe(expected);
  });
  it("calls a silent first byte a stall", () => {
    expect(new UpstreamError("p", "first_byte", null, "x").isStall).toBe(true);
    expect(new UpstreamError("p", "connect", null, "x").isStall).toBe(false);
  });
});

describe("ApiError", () => {
  it("renders OpenAI's error shape", () => {
    expect(errors.modelNotFound("m").toJSON()).toEqual({
      error: { message: expect.stringContaining("'m'"), type: "invalid_request_error", param: "model", code: "model_not_found" },
    });
  });
  it("tells the SDK not to retry what cannot change, and when to retry a rate limit", () => {
    expect(errors.invalidKey().headers["x-should-retry"]).toBe("false");
    expect(errors.budgetExhausted()).toMatchObject({ status: 402, headers: { "x-should-retry": "false" } });
    expect(errors.rateLimited(1_500).headers).toEqual({ "retry-after": "2", "retry-after-ms": "1500" });
    expect(errors.noProviderAvailable("m", "x").headers["x-should-retry"]).toBeUndefined();
  });
  it("tells the SDK not to retry any 400: the same request fails the same way", () => {
    const badRequests = [
      errors.invalidRequest("x"),
      errors.invalidJson(),
      errors.emptyBody(),
      errors.bodyNotAnObject("an array"),
      errors.missingParameter("model"),
      errors.invalidType("max_tokens", "an integer", "a string"),
      errors.invalidValue("temperature", "must be at most 2"),
      errors.unknownParameter("foo"),
      errors.contextTooLong("m", 10, null),
      errors.fromUpstream(400, "invalid_request_error", null, "x", null),
    ];
    for (const e of badRequests) expect(e, e.message).toMatchObject({ status: 400, headers: { "x-should-retry": "false" } });
  });
  it("words validation errors as OpenAI does", () => {
    expect(errors.missingParameter("messages").toJSON().error).toEqual({
      message: "Missing required parameter: 'messages'.",
      type: "invalid_request_error",
      param: "messages",
      code: "missing_required_parameter",
    });
    expect(errors.invalidType("max_tokens", "an integer", "a string").message).toBe(
      "Invalid type for 'max_tokens': expected an integer, but got a string instead.",
    );
    expect(errors.invalidValue("temperature", "must be at most 2.").message).toBe("Invalid value for 'temperature': must be at most 2.");
    expect(errors.unknownParameter("foo")).toMatchObject({ code: "unknown_parameter", param: "foo", message: "Unknown parameter: 'foo'." });
  });
  it("gives every error its own headers", () => {
    const a = errors.invalidKey();
    const b = a.withHeaders({ "x-extra": "1" });
    expect(b.headers).toEqual({ "x-should-retry": "false", "x-extra": "1" });
    expect(a.headers["x-extra"]).toBeUndefined();
    expect(errors.invalidKey().headers["x-extra"]).toBeUndefined();
    expect(new ApiError(400, "t", null, "m").headers).toEqual({});
  });
});
