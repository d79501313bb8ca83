/**
 * The request path for the three inference endpoints, after authentication and validation:
 * admit → route + forward (failover before the first byte) → respond (JSON) or relay (SSE) → finish.
 * The route table is read once per request; `finish` runs exactly once on every path.
 */
import { costPico } from "../../core/money/pricing";
import { formatUsdc } from "../../core/money/units";
import type { ApiError } from "../../core/openai/errors";
import { readUsage } from "../../core/openai/chunks";
import { RECEIPT_HEADER } from "../../core/protocol/receipt";
import type { Deps } from "../../ports";
import { relayStream } from "./relay";
import { admit, type Admitted } from "./admit";
import { finish, type Exchange, type ServedBy } from "./finish";
import { forward, type Attempt, type Served } from "./forward";
import type { InferenceCall, InferenceRequest } from "./validate";

export async function serveInference(deps: Deps, call: InferenceCall, req: InferenceRequest): Promise<Response> {
  const table = await deps.routes.table();
  const admitted = await admit(deps, call, req, table);
  const forwarded = await forward(deps, { ...req, requestId: call.requestId, edge: call.edge }, table).catch((err: unknown) => {
    // Not a provider's failure (those come back as results): a bug. The reservation still goes back.
    finish(
      deps,
      { call, req, admitted, attempts: [], served: null },
      { observed: noUsage(req), errorCode: "internal_error", endedAtMs: deps.now(), receipt: null },
    );
    throw err;
  });
  const exchange: Exchange = { call, req, admitted, attempts: forwarded.attempts, served: null };
  if (!forwarded.ok) {
    finish(deps, exchange, { observed: noUsage(req), errorCode: forwarded.error.code ?? "error", endedAtMs: deps.now(), receipt: null });
    throw failedWith(forwarded.error, deps, call, forwarded.attempts);
  }
  exchange.served = servedBy(forwarded);
  const headers = responseHeaders(deps, call, admitted, forwarded.attempts, forwarded.offer.providerId);
  return forwarded.reply.kind === "json"
    ? respondJson(deps, exchange, forwarded.reply, headers)
    : relay(deps, exchange, forwarded, headers);
}

function respondJson(
  deps: Deps,
  x: Exchange,
  reply: Extract<Served["reply"], { kind: "json" }>,
  headers: Record<string, string>,
): Response {
  const usage = readUsage(reply.body.usage);
  const rec = finish(deps, x, {
    observed: { reported: usage, deliveredTokens: usage?.completionTokens ?? 0, promptEstimate: x.req.promptTokens, complete: true },
    errorCode: null,
    endedAtMs: deps.now(),
    receipt: reply.headers.get(RECEIPT_HEADER),
  });
  // The charge rides along in usage (USDC, an exact decimal string), as OpenRouter's `cost` does.
  const raw = reply.body.usage;
  const text = isObject(raw) ? JSON.stringify({ ...reply.body, usage: { ...raw, cost: formatUsdc(rec.costPico) } }) : reply.text;
  return new Response(text, { headers: { ...headers, "content-type": "application/json" } });
}

function relay(deps: Deps, x: Exchange, served: Served, headers: Record<string, string>): Response {
  const { reply, offer } = served;
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
      finish(deps, x, {
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
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
