/** forward's retry policy: other providers first, then one more try on the same model, then the next fallback model. */
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../core/openai/errors";
import { failed, fails, failsFirst, harness, offer, request, served } from "./forward.fixtures";

const rateLimited = (id: string, ms: number) => () => new UpstreamError(id, "headers", 429, "slow down", null, ms);
const primaryAndFallback = (primaryIds = ["a"]) => [...primaryIds.map((id) => offer(id, 1n, "primary")), offer("f", 2n, "fallback")];
const fallbackRequest = () => request({ models: ["primary", "fallback"] });
const route = (sent: { provider: string; model: string }[]) => sent.map((s) => `${s.provider}/${s.model}`);

describe("forward's retry policy", () => {
  it("waits out a short Retry-After on the primary's only provider and is served by the primary, not the fallback", async () => {
    const { run, sent, slept } = harness(primaryAndFallback(), { a: failsFirst(1, rateLimited("a", 2_000)) });
    const r = served(await run(fallbackRequest()));
    expect(r.model).toBe("primary");
    expect(slept).toEqual([2_000]);
    expect(route(sent)).toEqual(["a/primary", "a/primary"]);
    expect(sent[1]!.atMs - sent[0]!.atMs).toBe(2_000);
  });

  it("tries the model's other provider before waiting out a Retry-After", async () => {
    const { run, sent, slept } = harness(primaryAndFallback(["a", "b"]), { a: rateLimited("a", 2_000) });
    expect(served(await run(fallbackRequest())).offer.providerId).toBe("b");
    expect(slept).toEqual([]);
    expect(route(sent)).toEqual(["a/primary", "b/primary"]);
  });

  it("falls back to the next model instead of waiting out a long Retry-After", async () => {
    const { run, sent, slept } = harness(primaryAndFallback(), { a: rateLimited("a", 30_000) });
    expect(served(await run(fallbackRequest())).model).toBe("fallback");
    expect(slept).toEqual([]);
    expect(route(sent)).toEqual(["a/primary", "f/fallback"]);
  });

  it("retries a single transient 500 on the same model (its only provider, once) before the fallback", async () => {
    const { run, sent } = harness(primaryAndFallback(), { a: failsFirst(1, fails("a", "headers", 500)) });
    const r = served(await run(fallbackRequest()));
    expect(r.model).toBe("primary");
    expect(r.attempts.map((a) => [a.providerId, a.error?.status ?? "ok"])).toEqual([
      ["a", 500],
      ["a", "ok"],
    ]);
  });

  it("retries a connect error or a reset on the same provider once too", async () => {
    const { run, sent } = harness(primaryAndFallback(), { a: failsFirst(1, fails("a", "connect", null)) });
    expect(served(await run(fallbackRequest())).model).toBe("primary");
    expect(route(sent)).toEqual(["a/primary", "a/primary"]);
  });

  it("retries the same provider only once: a second 500 moves to the fallback model", async () => {
    const { run, sent } = harness(primaryAndFallback(), { a: fails("a", "headers", 500) });
    expect(served(await run(fallbackRequest())).model).toBe("fallback");
    expect(route(sent)).toEqual(["a/primary", "a/primary", "f/fallback"]);
  });

  it("uses the model's other provider as the one more try, not the failed one again", async () => {
    const { run, sent } = harness(primaryAndFallback(["a", "b"]), { a: fails("a", "headers", 503), b: fails("b", "headers", 500) });
    expect(served(await run(fallbackRequest())).model).toBe("fallback");
    expect(route(sent)).toEqual(["a/primary", "b/primary", "f/fallback"]);
  });

  it("never retries a stalled provider: the next model", async () => {
    const { run, sent } = harness(primaryAndFallback(), { a: () => "stall" });
    expect(served(await run(fallbackRequest())).model).toBe("fallback");
    expect(route(sent)).toEqual(["a/primary", "f/fallback"]);
  });

  it("keeps every retry and wait within MAX_ATTEMPTS", async () => {
    const transient = harness(primaryAndFallback(), { a: failsFirst(1, fails("a", "headers", 500)) }, 1);
    expect(failed(await transient.run(fallbackRequest())).status).toBe(502);
    expect(transient.sent).toHaveLength(1);
    const limited = harness([offer("a", 1n), offer("b", 1n)], { a: rateLimited("a", 500), b: rateLimited("b", 500) }, 2);
    expect(failed(await limited.run(request())).status).toBe(429);
    expect(limited.slept).toEqual([]);
    expect(limited.sent).toHaveLength(2);
  });
});
