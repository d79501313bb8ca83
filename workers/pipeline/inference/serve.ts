/**
 * The request path for the three inference endpoints, after authentication and validation:
 * admit → route + forward (failover before the first byte) → respond (JSON) or relay (SSE) → finish.
 * The route table is read once per request; `finish` runs exactly once on every path — at once,
 * when the client leaves before the first byte (see ./ending.ts).
 */
import { costPico } from "../../core/money/pricing";
import { formatUsdc } from "../../core/money/units";
import type { ApiError } from "../../core/openai/errors";
import { readUsage } from "../../core/openai/chunks";
import { RECEIPT_HEADER } from "../../core/protocol/receipt";
import type { Deps } from "../../ports";
import { relayStream } from "./relay";
import { admit, NOTHING_RESERVED, type Admitted } from "./admit";
import { endOnce, gone, releaseById, type Ending } from "./ending";
import type { Exchange, ServedBy } from "./finish";
import { forward, type Attempt, type Served } from "./forward";
import type { InferenceCall, InferenceRequest } from "./validate";

export async function serveInference(deps: Deps, call: InferenceCall, req: InferenceRequest): Promise<Response> {
  const table = await deps.routes.table();
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
  const forwarded = await forward(
    deps,
    { ...req, requestId: call.requestId, edge: call.edge, signal: call.signal },
    table,
    x.attempts,
  ).catch((err: unknown) => {
    // Not a provider's failure (those come back as results): a bug. The reservation still goes back.
    end.finish({ observed: noUsage(req), errorCode: "internal_error", endedAtMs: deps.now(), receipt: null });
    throw err;
  });
  if (end.done || (!forwarded.ok && forwarded.clientLeft)) {
    if (forwarded.ok && forwarded.reply.kind === "stream") dropStream(forwarded.reply);
    return end.done ? gone() : end.clientLeft();
  }
  x.attempts = forwarded.attempts;
  if (!forwarded.ok) {
    end.finish({ observed: noUsage(req), errorCode: forwarded.error.code ?? "error", endedAtMs: deps.now(), receipt: null });
    throw failedWith(forwarded.error, deps, call, forwarded.attempts);
  }
  x.served = servedBy(forwarded);
  const headers = responseHeaders(deps, call, admitted, forwarded.attempts, forwarded.offer.providerId);
  if (forwarded.reply.kind === "json") return respondJson(deps, end, forwarded.reply, headers);
  end.stopWatching(); // the relay owns the client's abort from here (it ends at once if already aborted)
  return relay(deps, end, forwarded, headers);
}

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

function relay(deps: Deps, end: Ending, served: Served, headers: Record<string, string>): Response {
  const { reply, offer } = served;
  const x = end.x;
  if (reply.kind !== "stream") throw new Error("relay: not a stream");
  const body = relayStream({
    first: reply.first,
    reader: reply.reader,
    abortUpstream: reply.abort,
    includeUsage: x.req.includeUsage,
    idleDeadlineMs: deps.cfg.idleDeadlineMs,
    keepaliveMs: deps.cfg.keepaliveMs,
    now: deps.now,
    clientSignal: x.call.signal,
    costOf: (tokens) => formatUsdc(costPico(tokens, offer)),
    onFinish: (o) =>
      end.finish({
        observed: { reported: o.reported, deliveredTokens: o.deliveredTokens, promptEstimate: x.req.promptTokens, complete: o.complete },
        errorCode: o.errorCode,
        endedAtMs: o.endedAtMs,
        receipt: o.receipt,
      }),
  });
  return new Response(body, {
    headers: { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
  });
}

const servedBy = (s: Served): ServedBy => ({
  offer: s.offer,
  model: s.model,
  ttftMs: s.reply.firstByteAtMs - s.reply.sentAtMs,
  firstByteAtMs: s.reply.firstByteAtMs,
});

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
