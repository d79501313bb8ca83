/**
 * The request path for the three inference endpoints, after authentication and validation:
 * admit → route + forward (failover before the first byte) → respond (JSON) or relay (SSE) → finish.
 * The route table is read once per request; `finish` runs exactly once on every path — at once,
 * when the client leaves before the first byte (see ./ending.ts).
 */
import { costPico } from "../../core/money/pricing";
import { formatUsdc } from "../../core/money/units";
import { errors, type ApiError } from "../../core/openai/errors";
import { readUsage } from "../../core/openai/chunks";
import { RECEIPT_HEADER } from "../../core/protocol/receipt";
import type { Deps } from "../../ports";
import { continuer, servedBy } from "./continue";
import { relayStream } from "./relay";
import { admit, NOTHING_RESERVED, type Admitted } from "./admit";
import { endOnce, gone, releaseById, type Ending } from "./ending";
import type { Exchange } from "./finish";
import { emptyBody, keptAliveUntil, oneEvent, within } from "./early";
import { forward, type Attempt, type Forwarded, type Served } from "./forward";
import type { InferenceCall, InferenceRequest } from "./validate";

export async function serveInference(deps: Deps, call: InferenceCall, req: InferenceRequest): Promise<Response> {
  const table = await deps.routes.table(call.edge);
  const x: Exchange = { call, req, admitted: NOTHING_RESERVED, attempts: [], served: null };
  const end = endOnce(deps, x);
  if (call.signal?.aborted) return end.clientLeft();
  // From here until the relay takes over, a client that leaves finishes the request at once: in
  // workerd the handler is not resumed once its client is gone, so nothing after an await may be
  // relied on to run. Left while admitting: the reservation is released by its request id.
  x.admitted = releaseById(deps, call);
  const admission = admit(deps, call, req, table);
  const onLeft = () => {
    end.clientLeft();
    deps.background(
      admission.then(
        (a) => a.settle(0n, 0),
        () => undefined,
      ),
    );
  };
  call.signal?.addEventListener("abort", onLeft, { once: true });
  end.onEnd(() => call.signal?.removeEventListener("abort", onLeft));
  const admitted = await admission.catch((err: unknown) => {
    end.stopWatching(); // refused (402/429): not metered, nothing reserved
    throw err;
  });
  if (end.done) return gone();
  x.admitted = admitted;
  const forwarding = forward(
    deps,
    { ...req, requestId: call.requestId, edge: call.edge, signal: call.signal, startedAtMs: call.startedAtMs },
    table,
    x.attempts,
  ).catch((err: unknown) => {
    // Not a provider's failure (those come back as results): a bug. The reservation still goes back.
    end.finish({ observed: noUsage(req), errorCode: "internal_error", endedAtMs: deps.now(), receipt: null });
    throw err;
  });
  // A slow first byte of a stream: commit the headers and keep the client company (./early.ts).
  if (req.stream && deps.cfg.earlyHeadersMs > 0 && (await within(forwarding, deps.cfg.earlyHeadersMs)) === null) {
    return respondEarly(deps, end, forwarding);
  }
  return respond(deps, end, await forwarding);
}

/**
 * What forward's result means for the request, the bookkeeping done (on both the plain and the
 * early-headers path): the client left (the reply dropped, finished as client_disconnected), it
 * failed (finished as failed), or a provider serves it (the exchange records who).
 */
function settled(
  deps: Deps,
  end: Ending,
  f: Forwarded,
): { kind: "left" } | { kind: "failed"; error: ApiError } | Extract<Forwarded, { ok: true }> {
  const x = end.x;
  if (end.done || (!f.ok && f.clientLeft)) {
    if (f.ok && f.reply.kind === "stream") dropStream(f.reply);
    if (!end.done) end.clientLeft();
    return { kind: "left" };
  }
  x.attempts = f.attempts;
  if (!f.ok) {
    end.finish({ observed: noUsage(x.req), errorCode: f.error.code ?? "error", endedAtMs: deps.now(), receipt: null });
    return { kind: "failed", error: f.error };
  }
  x.served = servedBy(f);
  return f;
}

function respond(deps: Deps, end: Ending, forwarded: Forwarded): Response {
  const x = end.x;
  const s = settled(deps, end, forwarded);
  if ("kind" in s) {
    if (s.kind === "left") return gone();
    throw failedWith(s.error, deps, x.call, forwarded.attempts);
  }
  const headers = responseHeaders(deps, x.call, x.admitted, s.attempts, s.offer.providerId);
  if (s.reply.kind === "json") return respondJson(deps, end, s.reply, headers);
  end.stopWatching(); // the relay owns the client's abort from here (it ends at once if already aborted)
  return new Response(relayBody(deps, end, s), { headers: { ...headers, ...SSE_HEADERS } });
}

/** The headers went out before any provider answered: what forward returns becomes the stream's body. */
function respondEarly(deps: Deps, end: Ending, forwarding: Promise<Forwarded>): Response {
  const x = end.x;
  let relaying = false;
  const body = forwarding.then(
    (f): ReadableStream<Uint8Array> => {
      const s = settled(deps, end, f);
      if ("kind" in s) return s.kind === "left" ? emptyBody() : oneEvent(s.error.toJSON());
      end.stopWatching();
      relaying = true;
      return relayBody(deps, end, s);
    },
    () => oneEvent(errors.internal(x.call.requestId).toJSON()),
  );
  // Until the relay owns the stream, a client that cancels has left before the first byte.
  const onCancel = () => {
    if (!relaying && !end.done) end.clientLeft();
  };
  const headers = { ...x.admitted.headers, "x-request-id": x.call.requestId, "x-meshgate-early-headers": "true" };
  return new Response(keptAliveUntil(body, deps.cfg.keepaliveMs, onCancel), { headers: { ...headers, ...SSE_HEADERS } });
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" };

function respondJson(
  deps: Deps,
  end: Ending,
  reply: Extract<Served["reply"], { kind: "json" }>,
  headers: Record<string, string>,
): Response {
  const x = end.x;
  const usage = readUsage(reply.body.usage);
  const rec = end.finish({
    observed: { reported: usage, deliveredTokens: usage?.completionTokens ?? 0, promptEstimate: x.req.promptTokens, complete: true },
    errorCode: null,
    endedAtMs: deps.now(),
    receipt: reply.headers.get(RECEIPT_HEADER),
  });
  if (!rec) return gone(); // the client left first: finished as client_disconnected
  // The charge rides along in usage (USDC, an exact decimal string), as OpenRouter's `cost` does.
  const raw = reply.body.usage;
  const text = isObject(raw) ? JSON.stringify({ ...reply.body, usage: { ...raw, cost: formatUsdc(rec.costPico) } }) : reply.text;
  return new Response(text, { headers: { ...headers, "content-type": "application/json" } });
}

function relayBody(deps: Deps, end: Ending, served: Served): ReadableStream<Uint8Array> {
  const { reply, offer } = served;
  const x = end.x;
  const continueAfter = continuer(deps, end, served);
  if (reply.kind !== "stream") throw new Error("relay: not a stream");
  return relayStream({
    first: reply.first,
    reader: reply.reader,
    abortUpstream: reply.abort,
    includeUsage: x.req.includeUsage,
    idleDeadlineMs: deps.cfg.idleDeadlineMs,
    keepaliveMs: deps.cfg.keepaliveMs,
    now: deps.now,
    clientSignal: x.call.signal,
    costOf: (tokens) => formatUsdc(costPico(tokens, offer)),
    deadlineAtMs: x.call.startedAtMs + deps.cfg.totalDeadlineMs,
    totalDeadlineMs: deps.cfg.totalDeadlineMs,
    continueAfter,
    // After a continuation, end.x is the continuation's exchange (its own prompt estimate).
    onFinish: (o) =>
      end.finish({
        observed: {
          reported: o.reported,
          deliveredTokens: o.deliveredTokens,
          promptEstimate: end.x.req.promptTokens,
          complete: o.complete,
        },
        errorCode: o.errorCode,
        endedAtMs: o.endedAtMs,
        receipt: o.receipt,
      }),
  });
}

/** Which provider answered, after how many tries, and the gateway's own time (excluding upstream). */
function meshgateHeaders(deps: Deps, call: InferenceCall, attempts: Attempt[], providerId: string): Record<string, string> {
  const upstreamMs = attempts.reduce((sum, a) => sum + a.latencyMs, 0);
  return {
    "x-meshgate-provider": providerId,
    "x-meshgate-attempts": String(attempts.length),
    "x-meshgate-overhead-ms": String(Math.max(0, Math.round(deps.now() - call.startedAtMs - upstreamMs))),
  };
}

function responseHeaders(
  deps: Deps,
  call: InferenceCall,
  admitted: Admitted,
  attempts: Attempt[],
  providerId: string,
): Record<string, string> {
  return { ...admitted.headers, "x-request-id": call.requestId, ...meshgateHeaders(deps, call, attempts, providerId) };
}

function failedWith(error: ApiError, deps: Deps, call: InferenceCall, attempts: Attempt[]): ApiError {
  return error.withHeaders(meshgateHeaders(deps, call, attempts, attempts.at(-1)?.providerId ?? "none"));
}

const noUsage = (req: InferenceRequest) => ({ reported: null, deliveredTokens: 0, promptEstimate: req.promptTokens, complete: false });
/** A reply that came back after its client left: stop the provider and let go of the body. */
function dropStream(reply: Extract<Served["reply"], { kind: "stream" }>): void {
  reply.abort("client_disconnected");
  reply.reader.cancel().catch(() => undefined);
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
