/**
 * The request path for the three inference endpoints, after authentication:
 * validate → route + forward (failover before the first byte) → respond or relay → meter.
 */
import { parseBody } from "../core/openai/schemas";
import { ApiError, errors } from "../core/openai/errors";
import { estimatePromptTokens, type PromptBearingBody } from "../core/money/estimate";
import { ProviderPreferences } from "../core/routing/steering";
import type { Endpoint } from "../core/routing/types";
import type { UpstreamPath } from "../adapters/upstream";
import type { Deps, KeyRecord } from "../deps";
import { attemptsOf, forward, type Forwarded } from "./forward";
import { meter as meterUsage, type MeterInput } from "./meter";
import { admit } from "./admit";
import { relayStream } from "./relay";
import { RECEIPT_HEADER } from "../core/protocol/receipt";
import { costPico, formatUsdc } from "../core/money/pricing";
import type { z } from "zod";

export interface InferContext {
  deps: Deps;
  key: KeyRecord;
  requestId: string;
  startedAtMs: number;
  edge: string;
  /** Aborts when the client disconnects (compatibility flag enable_request_signal). */
  signal?: AbortSignal;
}

export interface EndpointSpec<S extends z.ZodType> {
  endpoint: Endpoint;
  path: UpstreamPath;
  schema: S;
}

export async function infer<S extends z.ZodType>(ctx: InferContext, spec: EndpointSpec<S>, raw: unknown): Promise<Response> {
  const { deps } = ctx;
  const body = parseBody(spec.schema, raw) as Record<string, unknown> & { model: string; models?: string[] };
  const steering = parseSteering(body.provider);
  const models = dedupe([body.model, ...(body.models ?? [])]);
  const denied = models.find((m) => ctx.key.allowedModels && !ctx.key.allowedModels.includes(m));
  if (denied) throw errors.forbidden(`This API key may not use the model '${denied}'.`);
  const stream = spec.endpoint !== "embeddings" && body.stream === true;
  const includeUsage = stream && isObject(body.stream_options) && body.stream_options.include_usage === true;
  const promptEstimate = estimatePromptTokens(body as PromptBearingBody);
  const maxOutputTokens = numberOrNull(body.max_completion_tokens) ?? numberOrNull(body.max_tokens);

  const base = { requestId: ctx.requestId, key: ctx.key, endpoint: spec.endpoint, stream, edge: ctx.edge, startedAtMs: ctx.startedAtMs, requestedModel: body.model };
  const admitted = await admit(deps, { requestId: ctx.requestId, key: ctx.key, models, endpoint: spec.endpoint, promptTokens: promptEstimate, maxOutputTokens });
  // Every path meters exactly once, and metering settles the reservation with the real charge.
  const meter = (input: MeterInput) => {
    const rec = meterUsage(deps, input);
    admitted.settle(rec.costPico, rec.promptTokens + rec.completionTokens);
    return rec;
  };
  let fwd: Forwarded;
  try {
    fwd = await forward(deps, {
      requestId: ctx.requestId, endpoint: spec.endpoint, path: spec.path, body, models, stream, edge: ctx.edge,
      promptTokens: promptEstimate, maxOutputTokens, steering,
    });
  } catch (err) {
    const attempts = attemptsOf(err);
    meter({ ...base, attempts, served: null, observed: noUsage(promptEstimate), errorCode: codeOf(err), endedAtMs: deps.now(), receipt: null });
    if (err instanceof ApiError) {
      Object.assign(err.headers, {
        "x-meshgate-provider": attempts.at(-1)?.providerId ?? "none",
        "x-meshgate-attempts": String(attempts.length),
        "x-meshgate-overhead-ms": String(Math.max(0, Math.round(deps.now() - ctx.startedAtMs - attempts.reduce((t, a) => t + a.latencyMs, 0)))),
      });
    }
    throw err;
  }

  const { reply, offer, model, attempts } = fwd;
  const upstreamMs = attempts.reduce((sum, a) => sum + a.latencyMs, 0);
  const served = { offer, model, ttftMs: reply.firstByteAtMs - reply.sentAtMs, firstByteAtMs: reply.firstByteAtMs };
  const headers = (): Record<string, string> => ({
    ...admitted.headers,
    "x-request-id": ctx.requestId,
    "x-meshgate-provider": offer.providerId,
    "x-meshgate-attempts": String(attempts.length),
    "x-meshgate-overhead-ms": String(Math.max(0, Math.round(deps.now() - ctx.startedAtMs - upstreamMs))),
  });

  if (reply.kind === "json") {
    const usage = readUsage(reply.body.usage);
    const rec = meter({ ...base, attempts, served, observed: { reported: usage, deliveredTokens: usage?.completionTokens ?? 0, promptEstimate, complete: true }, errorCode: null, endedAtMs: deps.now(), receipt: reply.headers.get(RECEIPT_HEADER) });
    // The charge rides along in usage (USDC, an exact decimal string), as OpenRouter's `cost` does.
    const text = isObject(reply.body.usage) ? JSON.stringify({ ...reply.body, usage: { ...reply.body.usage, cost: formatUsdc(rec.costPico) } }) : reply.text;
    return new Response(text, { headers: { ...headers(), "content-type": "application/json" } });
  }

  const relayed = relayStream({
    first: reply.first, reader: reply.reader, abortUpstream: reply.abort, includeUsage,
    idleDeadlineMs: deps.cfg.idleDeadlineMs, keepaliveMs: deps.cfg.keepaliveMs, now: deps.now, clientSignal: ctx.signal,
    costOf: (tokens) => formatUsdc(costPico(tokens, offer)),
    onFinish: (o) => meter({
      ...base, attempts, served,
      observed: { reported: o.reported, deliveredTokens: o.deliveredTokens, promptEstimate, complete: o.complete },
      errorCode: o.errorCode, endedAtMs: o.endedAtMs, receipt: o.receipt,
    }),
  });
  return new Response(relayed, {
    headers: { ...headers(), "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
  });
}

function parseSteering(raw: unknown) {
  if (raw === undefined || raw === null) return undefined;
  const r = ProviderPreferences.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const param = ["provider", ...(issue?.path ?? []).map(String)].join(".");
    throw errors.invalidRequest(`'${param}' is invalid: ${issue?.message ?? "unknown"}.`, param, "invalid_value");
  }
  return r.data;
}

const noUsage = (promptEstimate: number) => ({ reported: null, deliveredTokens: 0, promptEstimate, complete: false });
const dedupe = (xs: string[]) => [...new Set(xs)];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const numberOrNull = (v: unknown) => (typeof v === "number" ? v : null);
const codeOf = (err: unknown) => (isObject(err) && typeof err.code === "string" ? err.code : "error");

function readUsage(u: unknown) {
  if (!isObject(u) || typeof u.prompt_tokens !== "number") return null;
  return { promptTokens: u.prompt_tokens, completionTokens: typeof u.completion_tokens === "number" ? u.completion_tokens : 0 };
}
