import { describe, expect, it } from "vitest";
import { ApiError, UpstreamError } from "../core/openai/errors";
import { BreakerBoard } from "../core/routing/breaker";
import type { ProviderOffer, RouteTable } from "../core/routing/types";
import type { UpstreamReply, UpstreamRequest } from "../adapters/upstream";
import type { Deps } from "../deps";
import { forward, type ForwardRequest } from "./forward";

const NOW = 1_000_000;
const offer = (providerId: string, price: bigint, model = "m"): ProviderOffer => ({
  providerId, address: null, url: `http://${providerId}`, model, endpoints: ["chat"], inputPrice: price, outputPrice: price, contextLength: 8192,
  lastHeartbeatMs: NOW, suspended: false, stakeOk: true, waitingRequests: 0, maxWaitingRequests: 8,
});

type Behaviour = (req: UpstreamRequest) => UpstreamError | "ok";

function harness(offers: ProviderOffer[], behave: Record<string, Behaviour>, maxAttempts = 3) {
  const sent: { provider: string; model: string }[] = [];
  const table: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
  const deps = {
    cfg: { maxAttempts, ttftDeadlineMs: 1_000, idleDeadlineMs: 2_000, heartbeatFreshMs: 30_000 },
    now: () => NOW,
    routes: { table: async () => table, invalidate: () => undefined },
    breakers: new BreakerBoard(),
    upstream: {
      send: async (req: UpstreamRequest): Promise<UpstreamReply> => {
        sent.push({ provider: req.offer.providerId, model: JSON.parse(req.body).model });
        const r = (behave[req.offer.providerId] ?? (() => "ok"))(req);
        if (r !== "ok") throw r;
        return { kind: "json", body: { ok: true }, text: '{"ok":true}', headers: new Headers(), sentAtMs: NOW, firstByteAtMs: NOW };
      },
    },
  } as unknown as Deps;
  return { deps, sent };
}

const request = (over: Partial<ForwardRequest> = {}): ForwardRequest => ({
  requestId: "r", endpoint: "chat", path: "/v1/chat/completions", body: { model: "m", messages: [] }, models: ["m"],
  stream: false, edge: "local", promptTokens: 10, maxOutputTokens: 10, steering: undefined, ...over,
});
const fails = (id: string, phase: UpstreamError["phase"], status: number | null, extra: Partial<{ retryAfterMs: number }> = {}) =>
  () => new UpstreamError(id, phase, status, `${id} failed`, status ? { message: `${id} says no` } : null, extra.retryAfterMs ?? null);

describe("forward", () => {
  it("sends to the cheapest and rewrites only the model", async () => {
    const { deps, sent } = harness([offer("b", 2n), offer("a", 1n)], {});
    const r = await forward(deps, request({ body: { model: "m", messages: [], tools: [1], models: ["x"], provider: { order: [] } } }));
    expect(r.offer.providerId).toBe("a");
    expect(sent).toEqual([{ provider: "a", model: "m" }]);
  });

  it("fails over on connect errors and 5xx, in price order, within the attempt budget", async () => {
    const { deps, sent } = harness([offer("a", 1n), offer("b", 2n), offer("c", 3n), offer("d", 4n)], {
      a: fails("a", "connect", null), b: fails("b", "headers", 503), c: fails("c", "first_byte", null),
    });
    const err = await forward(deps, request()).catch((e: unknown) => e);
    expect(sent.map((s) => s.provider)).toEqual(["a", "b", "c"]);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(502);
  });

  it("does not retry a provider's 400 on another provider; its reason reaches the client", async () => {
    const { deps, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: fails("a", "headers", 400) });
    const err = (await forward(deps, request()).catch((e: unknown) => e)) as ApiError;
    expect(sent.map((s) => s.provider)).toEqual(["a"]);
    expect(err).toMatchObject({ status: 400, message: "a says no", headers: { "x-should-retry": "false" } });
  });

  it("moves to the next fallback model when the first model refuses the request", async () => {
    const { deps, sent } = harness([offer("a", 1n, "big"), offer("b", 2n, "small")], { a: fails("a", "headers", 400) });
    const r = await forward(deps, request({ models: ["big", "small"] }));
    expect(r.model).toBe("small");
    expect(sent).toEqual([{ provider: "a", model: "big" }, { provider: "b", model: "small" }]);
  });

  it("waits out a short Retry-After once when every provider is rate-limited, never more", async () => {
    let calls = 0;
    const { deps, sent } = harness([offer("a", 1n)], { a: () => (++calls === 1 ? new UpstreamError("a", "headers", 429, "slow down", null, 50) : "ok") });
    const r = await forward(deps, request());
    expect(r.offer.providerId).toBe("a");
    expect(sent).toHaveLength(2);
    const long = harness([offer("a", 1n)], { a: fails("a", "headers", 429, { retryAfterMs: 60_000 }) });
    const err = (await forward(long.deps, request()).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(429);
    expect(long.sent).toHaveLength(1);
  });

  it("leaves a rate-limited provider alone until its Retry-After has passed", async () => {
    const { deps, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: fails("a", "headers", 429, { retryAfterMs: 30_000 }) });
    await forward(deps, request());
    expect(sent.map((s) => s.provider)).toEqual(["a", "b"]);
    sent.length = 0;
    await forward(deps, request());
    expect(sent.map((s) => s.provider)).toEqual(["b"]);
  });

  it("answers 404 for an unknown model and 503 when none is healthy", async () => {
    const { deps } = harness([offer("a", 1n)], {});
    expect(await forward(deps, request({ models: ["nope"] })).catch((e: ApiError) => e.status)).toBe(404);
    const stale = { ...offer("a", 1n), lastHeartbeatMs: 0 };
    const h = harness([stale], {});
    expect(await forward(h.deps, request()).catch((e: ApiError) => e.status)).toBe(503);
  });

  it("opens a failing provider's circuit, so later requests skip it", async () => {
    const { deps, sent } = harness([offer("a", 1n), offer("b", 2n)], { a: fails("a", "headers", 500) });
    for (let i = 0; i < 3; i++) await forward(deps, request());
    sent.length = 0;
    await forward(deps, request());
    expect(sent.map((s) => s.provider)).toEqual(["b"]);
  });
});
