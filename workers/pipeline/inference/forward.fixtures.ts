/** forward's unit-test harness: route-table offers, a fake upstream per provider, a fake clock and a fake sleep. */
import { UpstreamError } from "../../core/openai/errors";
import { BreakerBoard } from "../../core/routing/breaker";
import type { ProviderOffer, RouteTable } from "../../core/routing/types";
import type { UpstreamReply, UpstreamRequest } from "../../ports";
import { forward, type ForwardDeps, type Forwarded, type ForwardRequest } from "./forward";

export const NOW = 1_000_000;
export const offer = (providerId: string, price: bigint, model = "m", heartbeatAtMs = NOW): ProviderOffer => ({
  providerId,
  address: null,
  url: `http://${providerId}`,
  model,
  endpoints: ["chat"],
  inputPrice: price,
  outputPrice: price,
  contextLength: 8192,
  lastHeartbeatMs: heartbeatAtMs,
  suspended: false,
  stakeOk: true,
  waitingRequests: 0,
  maxWaitingRequests: 8,
});

/** A provider's answer to one request: an error, a reply, or "stall" (nothing until the attempt's deadline). */
export type Behaviour = (req: UpstreamRequest, n: number) => UpstreamError | "ok" | "stall" | { afterMs: number };

export interface HarnessOptions {
  maxAttempts?: number;
  ttftDeadlineMs?: number;
  totalDeadlineMs?: number;
}

/** What each send was: to whom, for which model, when (fake clock) and with which deadline. */
export interface Sent {
  provider: string;
  model: string;
  atMs: number;
  deadlineMs: number;
}

export function harness(offers: ProviderOffer[], behave: Record<string, Behaviour>, opts: HarnessOptions | number = {}) {
  const o = typeof opts === "number" ? { maxAttempts: opts } : opts;
  const clock = { ms: NOW };
  const sent: Sent[] = [];
  const slept: number[] = [];
  const calls = new Map<string, number>();
  const table: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
  const deps: ForwardDeps = {
    cfg: {
      maxAttempts: o.maxAttempts ?? 3,
      ttftDeadlineMs: o.ttftDeadlineMs ?? 1_000,
      totalDeadlineMs: o.totalDeadlineMs ?? 300_000,
      heartbeatFreshMs: 30_000,
    },
    now: () => clock.ms,
    breakers: new BreakerBoard(),
    sleep: async (ms) => {
      slept.push(ms);
      clock.ms += ms;
    },
    upstream: {
      send: async (req: UpstreamRequest): Promise<UpstreamReply> => {
        const id = req.offer.providerId;
        const n = (calls.get(id) ?? 0) + 1;
        calls.set(id, n);
        sent.push({ provider: id, model: JSON.parse(req.body).model, atMs: clock.ms, deadlineMs: req.deadlineMs });
        const r = (behave[id] ?? (() => "ok"))(req, n);
        if (r === "stall") {
          clock.ms += req.deadlineMs; // as the adapter does: abandoned at the deadline
          throw new UpstreamError(id, "first_byte", null, `no response within ${req.deadlineMs} ms`);
        }
        if (r instanceof UpstreamError) throw r;
        if (typeof r === "object") {
          if (r.afterMs > req.deadlineMs) {
            clock.ms += req.deadlineMs;
            throw new UpstreamError(id, "first_byte", null, `no response within ${req.deadlineMs} ms`);
          }
          clock.ms += r.afterMs;
        }
        return {
          kind: "json",
          body: { ok: true },
          text: '{"ok":true}',
          headers: new Headers(),
          sentAtMs: clock.ms,
          firstByteAtMs: clock.ms,
        };
      },
    },
  };
  return { run: (req: ForwardRequest) => forward(deps, req, table), sent, slept, clock, deps };
}

export const request = (over: Partial<ForwardRequest> = {}): ForwardRequest => ({
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

export const fails =
  (
    id: string,
    phase: UpstreamError["phase"],
    status: number | null,
    extra: Partial<{ retryAfterMs: number; code: string; message: string }> = {},
  ) =>
  () =>
    new UpstreamError(
      id,
      phase,
      status,
      `${id} failed`,
      status ? { message: extra.message ?? `${id} says no`, code: extra.code ?? null } : null,
      extra.retryAfterMs ?? null,
    );

/** Fails the first `times` requests with `then`, then answers. */
export const failsFirst =
  (times: number, err: () => UpstreamError): Behaviour =>
  (_req, n) =>
    n <= times ? err() : "ok";

/** The reply forward returned; fails the test if it returned an error. */
export function served(r: Forwarded) {
  if (!r.ok) throw new Error(`expected a reply, got ${r.error.status} ${r.error.message}`);
  return r;
}
/** The error forward returned; fails the test if a provider answered. */
export function failed(r: Forwarded) {
  if (r.ok) throw new Error(`expected an error, got a reply from ${r.offer.providerId}`);
  return r.error;
}
