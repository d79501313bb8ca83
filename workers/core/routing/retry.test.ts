import { describe, expect, it } from "vitest";
import { UpstreamError } from "../openai/errors";
import { attemptDeadlineMs, budgetOf, classifyFailure, fitAttempt, MIN_ATTEMPT_MS, retryAfterWaitFits } from "./retry";

const err = (
  status: number | null,
  phase: UpstreamError["phase"] = "headers",
  body: { message?: string; code?: string | null } | null = null,
) => new UpstreamError("p", phase, status, "failed", body);

describe("classifyFailure", () => {
  it("tells what each failure allows", () => {
    expect(classifyFailure(err(null, "connect"))).toBe("transient");
    expect(classifyFailure(err(null, "first_byte"))).toBe("stall");
    for (const s of [408, 500, 502, 503, 504]) expect(classifyFailure(err(s))).toBe("transient");
    expect(classifyFailure(err(429))).toBe("rate_limited");
    expect(classifyFailure(err(307))).toBe("provider");
    expect(classifyFailure(err(404, "headers", { message: "The model `x` does not exist." }))).toBe("provider");
    expect(classifyFailure(err(404, "headers", { code: "model_not_found" }))).toBe("provider");
    expect(classifyFailure(err(400, "headers", { message: "This model's maximum context length is 8192 tokens" }))).toBe("next_model");
    expect(classifyFailure(err(400, "headers", { code: "context_length_exceeded" }))).toBe("next_model");
    for (const s of [400, 401, 403, 404, 413, 422]) expect(classifyFailure(err(s, "headers", { message: "no" }))).toBe("final");
  });
});

describe("deadlines and the total budget", () => {
  const base = { stream: false, generates: true, ttftDeadlineMs: 10_000, maxOutputTokens: 100, contextLength: 8192, promptTokens: 92 };
  it("gives a non-streamed answer an allowance per output token, a stream and an embedding the TTFT deadline", () => {
    expect(attemptDeadlineMs(base)).toBe(15_000);
    expect(attemptDeadlineMs({ ...base, maxOutputTokens: null })).toBe(10_000 + 50 * 8_100);
    expect(attemptDeadlineMs({ ...base, stream: true })).toBe(10_000);
    expect(attemptDeadlineMs({ ...base, generates: false })).toBe(10_000);
  });

  it("caps an attempt by the time left and starts none with too little left", () => {
    const b = budgetOf(0, 10_000);
    expect(fitAttempt(b, 1_000, 5_000)).toEqual({ deadlineMs: 5_000, capped: false });
    expect(fitAttempt(b, 8_000, 5_000)).toEqual({ deadlineMs: 2_000, capped: true });
    expect(fitAttempt(b, 10_000 - MIN_ATTEMPT_MS + 1, 5_000)).toBeNull();
  });

  it("waits out only a short Retry-After that leaves room for the retry", () => {
    const b = budgetOf(0, 10_000);
    expect(retryAfterWaitFits(b, 0, 2_000)).toBe(true);
    expect(retryAfterWaitFits(b, 0, 6_000)).toBe(false);
    expect(retryAfterWaitFits(b, 8_000, 2_000)).toBe(false);
  });
});
