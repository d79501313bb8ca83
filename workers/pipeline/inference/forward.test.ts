import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../core/openai/errors";
import { BreakerBoard } from "../../core/routing/breaker";
import type { ProviderOffer, RouteTable } from "../../core/routing/types";
import type { UpstreamReply, UpstreamRequest } from "../../ports";
import { forward, type ForwardDeps, type Forwarded, type ForwardRequest } from "./forward";

const NOW = 1_000_000;
const offer = (providerId: string, price: bigint, model = "m"): ProviderOffer => ({
  providerId,
  address: null,
  url: `http://${providerId}`,
  model,
  endpoints: ["chat"],
  inputPrice: price,
  outputPrice: price,
  contextLength: 8192,
  lastHeartbeatMs: NOW,
  suspended: false,
  stakeOk: true,
  waitingRequests: 0,
  maxWaitingRequests: 8,
});

type Behaviour = (req: UpstreamRequest) => UpstreamError | "ok";

function harness(offers: ProviderOffer[], behave: Record<string, Behaviour>, maxAttempts = 3) {
  const sent: { provider: string; model: string }[] = [];
  const table: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
  const deps: ForwardDeps = {
    cfg: { maxAttempts, ttftDeadlineMs: 1_000, idleDeadlineMs: 2_000, heartbeatFreshMs: 30_000 },
    now: () => NOW,
    breakers: new BreakerBoard(),
    upstream: {
      send: async (req: UpstreamRequest): Promise<UpstreamReply> => {
        sent.push({ provider: req.offer.providerId, model: JSON.parse(req.body).model });
        const r = (behave[req.offer.providerId] ?? (() => "ok"))(req);
        if (r !== "ok") throw r;
        return { kind: "json", body: { ok: true }, text: '{"ok":true}', headers: new Headers(), sentAtMs: NOW, firstByteAtMs: NOW };
      },
    },
  };
  return { run: (req: ForwardRequest) => forward(deps, req, table), sent };
}

const request = (over: Partial<ForwardRequest> = {}): ForwardRequest => ({
  requestId: "r",
  endpoint: "chat",
  path: "/v1/chat/completions",
  body: { model: "m", messages: [] },
  models: ["m"],
  stream: false,
  includeUsage: false,
  edge: "local",
  promptTokens: 10,
  maxOutputTokens: 10,
  steering: undefined,
  ...over,
});
const fails =
  (id: string, phase: UpstreamError["phase"], status: number | null, extra: Partial<{ retryAfterMs: number }> = {}) =>
  () =>
    new UpstreamError(id, phase, status, `${id} failed`, status ? { message: `${id} says no` } : null, extra.retryAfterMs ?? null);

/** The reply forward returned; fails the test if it returned an error. */
function served(r: Forwarded) {
  if (!r.ok) throw new Error(`expected a reply, got ${r.error.status} ${r.error.message}`);
  return r;
}
/** The error forward returned; fails the test if a provider answered. */
function failed(r: Forwarded) {
  if (r.ok) throw new Error(`expected an error, got a reply from ${r.offer.providerId}`);
  return r.error;
}

describe("forward", () => {
  it("sends to the cheapest and rewrites only the model", async () => {
    const { run, sent } = harness([offer("b", 2n), offer("a", 1n)], {});
    const r = served(await run(request({ body: { model: "m", messages: [], tools: [1], models: ["x"], provider: { order: [] } } })));
    expect(r.offer.providerId).toBe("a");
    expect(r.attempts).toHaveLength(1);
    expect(sent).toEqual([{ provider: "a", model: "m" }]);
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

  it("moves to the next fallback model when the first model refuses the request", async () => {
    const { run, sent } = harness([offer("a", 1n, "big"), offer("b", 2n, "small")], { a: fails("a", "headers", 400) });
    const r = served(await run(request({ models: ["big", "small"] })));
    expect(r.model).toBe("small");
    expect(sent).toEqual([
      { provider: "a", model: "big" },
      { provider: "b", model: "small" },
    ]);
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
