/** forward when the client leaves: the attempt in flight is aborted, nothing more is tried, nobody is blamed. */
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../core/openai/errors";
import { BreakerBoard } from "../../core/routing/breaker";
import type { RouteTable } from "../../core/routing/types";
import type { UpstreamReply, UpstreamRequest } from "../../ports";
import { forward, type Attempt, type ForwardDeps, type ForwardRequest } from "./forward";
import { NOW, offer } from "./forward.fixtures";

/** Every provider stalls until the request's signal aborts, then fails as the adapter does; or answers 429 at once. */
function harness(behaviour: "stall" | "rate_limited") {
  const sent: string[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const breakers = new BreakerBoard();
  const table: RouteTable = { offers: [offer("a", 1n), offer("b", 2n), offer("c", 3n)], latency: new Map(), loadedAtMs: NOW };
  const deps: ForwardDeps = {
    // Four attempts: the three providers, then the retry after the Retry-After wait.
    cfg: { maxAttempts: 4, ttftDeadlineMs: 1_000, totalDeadlineMs: 300_000, heartbeatFreshMs: 30_000 },
    now: () => NOW,
    breakers,
    upstream: {
      send: (req: UpstreamRequest): Promise<UpstreamReply> => {
        sent.push(req.offer.providerId);
        signals.push(req.signal);
        const id = req.offer.providerId;
        if (behaviour === "rate_limited") return Promise.reject(new UpstreamError(id, "headers", 429, "slow down", null, 1_500));
        return new Promise((_, reject) => {
          const gone = () => reject(new UpstreamError(id, "connect", null, "aborted: the client left"));
          if (req.signal?.aborted) gone();
          else req.signal?.addEventListener("abort", gone, { once: true });
        });
      },
    },
  };
  const run = (signal: AbortSignal, attempts: Attempt[] = []) => forward(deps, request(signal), table, attempts);
  return { run, sent, signals, breakers };
}

const request = (signal: AbortSignal): ForwardRequest => ({
  requestId: "r",
  endpoint: "chat",
  path: "/v1/chat/completions",
  body: { model: "m", messages: [] },
  models: ["m"],
  stream: true,
  includeUsage: false,
  edge: "local",
  promptTokens: 10,
  maxOutputTokens: 10,
  steering: undefined,
  signal,
});

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("forward, when the client leaves", () => {
  it("aborts the attempt in flight through its signal and tries no other provider", async () => {
    const { run, sent, signals } = harness("stall");
    const client = new AbortController();
    const attempts: Attempt[] = [];
    const pending = run(client.signal, attempts);
    await tick();
    expect(sent).toEqual(["a"]);
    expect(signals[0]).toBe(client.signal);
    client.abort();
    const r = await pending;
    expect(r).toMatchObject({ ok: false, clientLeft: true });
    expect(sent).toEqual(["a"]); // no failover
    expect(r.attempts).toBe(attempts); // the caller's list, filled as attempts end
    expect(attempts.map((a) => [a.providerId, a.clientLeft])).toEqual([["a", true]]);
  });

  it("does not count the abort against the provider's breaker", async () => {
    const { run, breakers } = harness("stall");
    for (let i = 0; i < 5; i++) {
      const client = new AbortController();
      const pending = run(client.signal);
      await tick();
      client.abort();
      await pending;
    }
    expect(breakers.snapshot()).toEqual([]); // closed, no failures recorded
    expect(breakers.isAvailable("a", NOW)).toBe(true);
  });

  it("sends nothing when the client already left", async () => {
    const { run, sent } = harness("stall");
    const client = new AbortController();
    client.abort();
    expect(await run(client.signal)).toMatchObject({ ok: false, clientLeft: true, attempts: [] });
    expect(sent).toEqual([]);
  });

  it("stops waiting out a Retry-After when the client leaves, and does not retry", async () => {
    const { run, sent } = harness("rate_limited");
    const client = new AbortController();
    const started = Date.now();
    const pending = run(client.signal);
    await tick();
    expect(sent).toEqual(["a", "b", "c"]); // every one rate-limited: forward now waits 1.5 s
    client.abort();
    expect(await pending).toMatchObject({ ok: false, clientLeft: true });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(sent).toEqual(["a", "b", "c"]);
  });
});
