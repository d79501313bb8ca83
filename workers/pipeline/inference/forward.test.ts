import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../core/openai/errors";
import { failed, fails, harness, offer, request, served } from "./forward.fixtures";

describe("forward", () => {
  it("sends to the cheapest and rewrites only the model", async () => {
    const { run, sent } = harness([offer("b", 2n), offer("a", 1n)], {});
    const r = served(await run(request({ body: { model: "m", messages: [], tools: [1], models: ["x"], provider: { order: [] } } })));
    expect(r.offer.providerId).toBe("a");
    expect(r.attempts).toHaveLength(1);
    expect(sent.map(({ provider, model }) => ({ provider, model }))).toEqual([{ provider: "a", model: "m" }]);
  });

  it("fails over on connect errors and 5xx, in price order, within the attempt budget", async () => {
    const { run, sent } = harness([offer("a", 1n), offer("b", 2n), offer("c", 3n), offer("d", 4n)], {
      a: fails("a", "connect", null),
      b: fails("b", "headers", 503),
      c: fails("c", "first_byte", null),
    });
    const r = await run(request());
    expect(sent.map((s) => s.provider)).toEqual(["a", "b", "c"]);
    expect(failed(r).status).toBe(502);
    // The failed attempts come back with the error, for metering and the latency table.
    expect(r.attempts.map((a) => [a.providerId, a.error?.phase])).toEqual([
      ["a", "connect"],
      ["b", "headers"],
      ["c", "first_byte"],
    ]);
  });

  it("does not retry a provider's 400 on another provider; its reason reaches the client", async () => {
    const { run, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: fails("a", "headers", 400) });
    const err = failed(await run(request()));
    expect(sent.map((s) => s.provider)).toEqual(["a"]);
    expect(err).toMatchObject({ status: 400, message: "a says no", headers: { "x-should-retry": "false" } });
  });

  it("moves to the next fallback model when the request exceeds the first model's context", async () => {
    const tooLong = fails("a", "headers", 400, { message: "This model's maximum context length is 4096 tokens" });
    const { run, sent } = harness([offer("a", 1n, "big"), offer("a2", 1n, "big"), offer("b", 2n, "small")], { a: tooLong });
    const r = served(await run(request({ models: ["big", "small"] })));
    expect(r.model).toBe("small");
    // The model's other provider is not tried: the same context, the same refusal.
    expect(sent.map(({ provider, model }) => ({ provider, model }))).toEqual([
      { provider: "a", model: "big" },
      { provider: "b", model: "small" },
    ]);
  });

  it.each([400, 401, 403, 404, 413, 422])("never retries a %i that will repeat: no other provider, no fallback model", async (status) => {
    const { run, sent } = harness([offer("a", 1n, "big"), offer("a2", 2n, "big"), offer("b", 2n, "small")], {
      a: fails("a", "headers", status),
    });
    const err = failed(await run(request({ models: ["big", "small"] })));
    expect(err).toMatchObject({ status, message: "a says no", headers: { "x-should-retry": "false" } });
    expect(sent.map((s) => s.provider)).toEqual(["a"]);
  });

  it("fails over from a provider that does not serve the model (a model-level 404)", async () => {
    const gone = fails("a", "headers", 404, { message: "The model `m` does not exist." });
    const { run, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: gone });
    expect(served(await run(request())).offer.providerId).toBe("b");
    expect(sent.map((s) => s.provider)).toEqual(["a", "b"]);
  });

  it("waits out a short Retry-After once when every provider is rate-limited, never more", async () => {
    let calls = 0;
    const { run, sent } = harness([offer("a", 1n)], {
      a: () => (++calls === 1 ? new UpstreamError("a", "headers", 429, "slow down", null, 50) : "ok"),
    });
    expect(served(await run(request())).offer.providerId).toBe("a");
    expect(sent).toHaveLength(2);
    const long = harness([offer("a", 1n)], { a: fails("a", "headers", 429, { retryAfterMs: 60_000 }) });
    expect(failed(await long.run(request())).status).toBe(429);
    expect(long.sent).toHaveLength(1);
  });

  it("leaves a rate-limited provider alone until its Retry-After has passed", async () => {
    const { run, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: fails("a", "headers", 429, { retryAfterMs: 30_000 }) });
    served(await run(request()));
    expect(sent.map((s) => s.provider)).toEqual(["a", "b"]);
    sent.length = 0;
    served(await run(request()));
    expect(sent.map((s) => s.provider)).toEqual(["b"]);
  });

  it("answers 404 for an unknown model and 503 when none is healthy", async () => {
    const { run } = harness([offer("a", 1n)], {});
    expect(failed(await run(request({ models: ["nope"] }))).status).toBe(404);
    const stale = { ...offer("a", 1n), lastHeartbeatMs: 0 };
    expect(failed(await harness([stale], {}).run(request())).status).toBe(503);
  });

  it("opens a failing provider's circuit, so later requests skip it", async () => {
    const { run, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: fails("a", "headers", 500) });
    for (let i = 0; i < 3; i++) await run(request());
    sent.length = 0;
    served(await run(request()));
    expect(sent.map((s) => s.provider)).toEqual(["b"]);
  });
});
