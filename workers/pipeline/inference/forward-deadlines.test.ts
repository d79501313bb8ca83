/** forward's deadlines: each attempt's own (TTFT, plus an allowance per output token when not streamed) and the total cap. */
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../core/openai/errors";
import { failed, harness, NOW, offer, request, served } from "./forward.fixtures";

const stall = () => "stall" as const;

describe("forward's deadlines", () => {
  it("gives a streamed attempt TTFT_DEADLINE_MS for its first byte", async () => {
    const { run, sent } = harness([offer("a", 1n)], {}, { ttftDeadlineMs: 1_000 });
    served(await run(request({ stream: true, maxOutputTokens: 500 })));
    expect(sent[0]!.deadlineMs).toBe(1_000);
  });

  it("gives a non-streamed attempt TTFT_DEADLINE_MS + 50 ms per output token it may generate", async () => {
    const { run, sent } = harness([{ ...offer("a", 1n), endpoints: ["chat", "embeddings"] }], {}, { ttftDeadlineMs: 1_000 });
    served(await run(request({ maxOutputTokens: 200 })));
    expect(sent[0]!.deadlineMs).toBe(1_000 + 50 * 200);
    // Without max_tokens: what the provider's context (8192) leaves after the prompt, capped by the total budget.
    served(await run(request({ maxOutputTokens: null, promptTokens: 8_092 })));
    expect(sent[1]!.deadlineMs).toBe(1_000 + 50 * 100);
    served(await run(request({ maxOutputTokens: null })));
    expect(sent[2]!.deadlineMs).toBe(300_000);
    // Embeddings generate nothing: TTFT_DEADLINE_MS.
    served(await run(request({ endpoint: "embeddings", path: "/v1/embeddings", maxOutputTokens: null })));
    expect(sent[3]!.deadlineMs).toBe(1_000);
  });

  it("serves an honest non-streamed answer slower than TTFT_DEADLINE_MS", async () => {
    const { run } = harness([offer("a", 1n)], { a: () => ({ afterMs: 5_000 }) }, { ttftDeadlineMs: 1_000 });
    expect(served(await run(request({ maxOutputTokens: 100 }))).offer.providerId).toBe("a");
  });

  it("abandons stalled non-streamed attempts at their own deadline: every provider stalled is a 502 in seconds, not minutes", async () => {
    const { run, sent, clock } = harness([offer("a", 1n), offer("b", 2n), offer("c", 3n)], { a: stall, b: stall, c: stall });
    const err = failed(await run(request({ maxOutputTokens: 10 })));
    expect(err.status).toBe(502);
    expect(sent.map((s) => s.deadlineMs)).toEqual([1_500, 1_500, 1_500]);
    expect(clock.ms - NOW).toBe(4_500);
  });

  it("cuts the last attempt to the time left and answers 504 deadline_exceeded when the total budget runs out", async () => {
    const { run, sent, clock } = harness(
      [offer("a", 1n), offer("b", 2n), offer("c", 3n)],
      { a: stall, b: stall, c: stall },
      { totalDeadlineMs: 2_000 },
    );
    const err = failed(await run(request({ maxOutputTokens: 10 })));
    expect(err).toMatchObject({ status: 504, type: "timeout", code: "deadline_exceeded", headers: { "x-should-retry": "false" } });
    expect(sent.map((s) => s.deadlineMs)).toEqual([1_500, 500]);
    expect(clock.ms - NOW).toBe(2_000);
  });

  it("measures the budget from the call's start, and starts no attempt with too little of it left", async () => {
    const late = harness([offer("a", 1n)], {}, { totalDeadlineMs: 2_000 });
    const err = failed(await late.run(request({ startedAtMs: NOW - 1_900 })));
    expect(err).toMatchObject({ status: 504, code: "deadline_exceeded" });
    expect(late.sent).toEqual([]);
    const capped = harness([offer("a", 1n)], {}, { totalDeadlineMs: 2_000 });
    served(await capped.run(request({ startedAtMs: NOW - 1_000, stream: true })));
    expect(capped.sent[0]!.deadlineMs).toBe(1_000);
  });

  it("never starts a Retry-After wait that cannot fit the time left", async () => {
    const limited = () => new UpstreamError("a", "headers", 429, "slow down", null, 2_000);
    const { run, slept, sent } = harness([offer("a", 1n)], { a: limited }, { totalDeadlineMs: 4_000 });
    expect(failed(await run(request({ startedAtMs: NOW - 2_000 }))).status).toBe(429);
    expect(slept).toEqual([]);
    expect(sent).toHaveLength(1);
  });
});
