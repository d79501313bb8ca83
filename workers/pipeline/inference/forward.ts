/**
 * Failover as a bounded loop over ranked candidates, and across the request's fallback models,
 * before the client has seen anything, under the policy and deadlines of core/routing/retry.ts:
 * a model's other providers first, then one more try on it (a short Retry-After waited out, or a
 * transient failure retried once on its only provider), then the next fallback model; all within
 * MAX_ATTEMPTS and the request's total budget (504 deadline_exceeded when it ran out). A client
 * that leaves stops the loop: the attempt in flight is aborted (the signal the Upstream port is
 * given), no further candidate is tried, and the provider is not blamed for it.
 */
import { errors, UpstreamError, type ApiError } from "../../core/openai/errors";
import { DEFAULT_ROUTING_POLICY, excludedByRequest, summarizeExclusions, type Exclusion } from "../../core/routing/rank";
import {
  attemptDeadlineMs,
  budgetOf,
  classifyFailure,
  fitAttempt,
  retryAfterWaitFits,
  type Budget,
  type FailureKind,
} from "../../core/routing/retry";
import { route } from "../../core/routing/route-walk";
import type { ProviderOffer, RouteTable } from "../../core/routing/types";
import type { Config } from "../../config";
import type { Ports, UpstreamReply } from "../../ports";
import type { InferenceRequest } from "./validate";

/** What forward needs to know: the validated request, whose call it is, and from which edge. */
export interface ForwardRequest extends InferenceRequest {
  requestId: string;
  edge: string;
  /** When the call started (InferenceCall.startedAtMs): the total budget runs from here (else from forward's start). */
  startedAtMs?: number;
  /** The client's signal: when it aborts, the attempt in flight is aborted and nothing more is tried. */
  signal?: AbortSignal;
  /** Providers not to try for this request (a mid-stream continuation excludes the one that broke). */
  excludeProviderIds?: readonly string[];
}

export interface Attempt {
  providerId: string;
  model: string;
  error: UpstreamError | null;
  latencyMs: number;
  /** Cut short because the client left: says nothing about the provider (no breaker, no latency sample). */
  clientLeft?: true;
}

export interface Served {
  offer: ProviderOffer;
  model: string;
  reply: UpstreamReply;
}

/** Every attempt made, and either the reply that came back or the error the client gets. */
export type Forwarded =
  | ({ ok: true; attempts: Attempt[] } & Served)
  | { ok: false; error: ApiError; attempts: Attempt[]; clientLeft: boolean };

/** The ports forward uses and the slice of the configuration it reads. */
export type ForwardDeps = Pick<Ports, "now" | "breakers" | "upstream"> & {
  cfg: Pick<Config, "maxAttempts" | "ttftDeadlineMs" | "totalDeadlineMs" | "heartbeatFreshMs">;
  /** Waits `ms`, or less if the signal aborts first (a test passes one that moves its fake clock). */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
};

/** How long a provider that said 429 without Retry-After is left alone. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 1_000;

/** One request's failover: what was learnt so far, shared by its models. */
interface Run {
  deps: ForwardDeps;
  req: ForwardRequest;
  table: RouteTable;
  attempts: Attempt[];
  budget: Budget;
  /** Providers that stalled: not tried again for this request. */
  tried: Set<string>;
  clientError: UpstreamError | null;
  /** The total budget stopped an attempt (or cut one short): the client gets 504. */
  outOfTime: boolean;
  anyKnown: boolean;
  /** Per model: what its walk ruled out (filled as the walk goes; complete when it found nobody). */
  exclusions: Exclusion[][];
}

/** What one try (or one model) came to: a reply, a failure's kind, or the end of the request. */
type Outcome = Served | FailureKind | "skipped" | "stop" | "left";

/**
 * Routes and forwards over the route table read once for this request; never throws for a provider's
 * failure. `attempts` is filled as they finish (the caller may share it, to finish a request whose
 * client left while an attempt was still in flight).
 */
export async function forward(deps: ForwardDeps, req: ForwardRequest, table: RouteTable, attempts: Attempt[] = []): Promise<Forwarded> {
  const run: Run = {
    deps,
    req,
    table,
    attempts,
    budget: budgetOf(req.startedAtMs ?? deps.now(), deps.cfg.totalDeadlineMs),
    tried: new Set(req.excludeProviderIds),
    clientError: null,
    outOfTime: false,
    anyKnown: false,
    exclusions: [],
  };
  for (const model of req.models) {
    const r = await tryModel(run, model);
    if (typeof r === "object") return { ok: true, attempts, ...r };
    if (r === "left" || req.signal?.aborted) return { ok: false, error: clientClosed(req), attempts, clientLeft: true };
    if (r === "stop") break;
  }
  if (req.signal?.aborted) return { ok: false, error: clientClosed(req), attempts, clientLeft: true };
  return { ok: false, error: failure(run), attempts, clientLeft: false };
}

/** Every provider of one model, then one more try on it; "next_model" when the next fallback may help. */
async function tryModel(run: Run, model: string): Promise<Served | "next_model" | "stop" | "left"> {
  const { deps, req } = run;
  // Walked lazily: only the candidates this loop reaches are ranked and checked.
  const rank = route(
    run.table,
    {
      model,
      endpoint: req.endpoint,
      edge: req.edge,
      promptTokens: req.promptTokens,
      maxOutputTokens: req.maxOutputTokens,
      steering: req.steering,
      excludeProviderIds: run.tried,
    },
    { nowMs: deps.now(), breakers: deps.breakers, policy: { ...DEFAULT_ROUTING_POLICY, heartbeatFreshMs: deps.cfg.heartbeatFreshMs } },
  );
  run.anyKnown ||= rank.modelKnown;
  run.exclusions.push(rank.excluded);

  let tries = 0;
  let transient: ProviderOffer | null = null;
  let rateLimited: { offer: ProviderOffer; ms: number } | null = null;
  for (const offer of rank.ranked) {
    const r = await tryOffer(run, offer, model);
    if (r === "skipped") continue;
    tries++;
    if (r === "transient") transient ??= offer;
    else if (r === "rate_limited") {
      const ms = run.attempts.at(-1)?.error?.retryAfterMs ?? null;
      if (ms !== null && (!rateLimited || ms < rateLimited.ms)) rateLimited = { offer, ms };
    } else if (r !== "stall" && r !== "provider") return settled(r);
  }
  // Every provider of the model was tried: one more try on it before the next fallback model.
  if (rateLimited && run.attempts.length < deps.cfg.maxAttempts && retryAfterWaitFits(run.budget, deps.now(), rateLimited.ms)) {
    await (deps.sleep ?? pause)(rateLimited.ms, req.signal);
    if (req.signal?.aborted) return "left";
    return settled(await tryOffer(run, rateLimited.offer, model, false));
  }
  if (transient && tries === 1) return settled(await tryOffer(run, transient, model));
  return "next_model";
}

/** A try's outcome, as the end of its model: a reply, the end of the request, or on to the next model. */
function settled(r: Outcome): Served | "next_model" | "stop" | "left" {
  if (typeof r === "object" || r === "stop" || r === "left") return r;
  return r === "final" ? "stop" : "next_model";
}

/** One attempt, if the attempt budget, the time left and the provider's breaker allow it. */
async function tryOffer(run: Run, offer: ProviderOffer, model: string, askBreaker = true): Promise<Outcome> {
  const { deps, req } = run;
  if (req.signal?.aborted) return "left";
  if (run.attempts.length >= deps.cfg.maxAttempts) return "stop";
  const own = attemptDeadlineMs({
    stream: req.stream,
    generates: req.endpoint !== "embeddings",
    ttftDeadlineMs: deps.cfg.ttftDeadlineMs,
    maxOutputTokens: req.maxOutputTokens,
    contextLength: offer.contextLength,
    promptTokens: req.promptTokens,
  });
  const fit = fitAttempt(run.budget, deps.now(), own);
  if (!fit) {
    run.outOfTime = true;
    return "stop";
  }
  // Another request in this isolate may have taken a half-open breaker's single trial.
  if (askBreaker && !deps.breakers.onAttempt(offer.providerId, deps.now())) return "skipped";
  const served = await attempt(deps, req, offer, model, run.attempts, fit.deadlineMs);
  if (served) return served;
  if (req.signal?.aborted) return "left";
  const err = run.attempts.at(-1)?.error;
  if (!err) return "skipped";
  const kind = classifyFailure(err);
  if (kind === "stall") {
    run.tried.add(offer.providerId);
    if (fit.capped) {
      run.outOfTime = true;
      return "stop";
    }
  }
  if (kind === "final" || kind === "next_model") run.clientError = err;
  return kind;
}

async function attempt(
  deps: ForwardDeps,
  req: ForwardRequest,
  offer: ProviderOffer,
  model: string,
  attempts: Attempt[],
  deadlineMs: number,
): Promise<Served | null> {
  const started = deps.now();
  try {
    const reply = await deps.upstream.send({
      offer,
      path: req.path,
      stream: req.stream,
      requestId: req.requestId,
      body: JSON.stringify(upstreamBody(req, model)),
      deadlineMs,
      signal: req.signal,
    });
    deps.breakers.recordSuccess(offer.providerId, deps.now());
    attempts.push({ providerId: offer.providerId, model, error: null, latencyMs: deps.now() - started });
    return { offer, model, reply };
  } catch (e) {
    if (!(e instanceof UpstreamError)) throw e;
    if (req.signal?.aborted) {
      // The client's doing, not the provider's: its breaker and latency record are left as they were.
      attempts.push({ providerId: offer.providerId, model, error: e, latencyMs: deps.now() - started, clientLeft: true });
      return null;
    }
    // A 429 or a 4xx of the request's own says nothing about the provider's health; the rest counts against it.
    const kind = classifyFailure(e);
    if (kind === "transient" || kind === "stall" || kind === "provider") deps.breakers.recordFailure(offer.providerId, deps.now(), started);
    else deps.breakers.recordSuccess(offer.providerId, deps.now());
    if (e.status === 429) deps.breakers.pause(offer.providerId, deps.now() + (e.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS));
    attempts.push({ providerId: offer.providerId, model, error: e, latencyMs: deps.now() - started });
    return null;
  }
}

/** Waits `ms`, or less if the signal aborts first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** What a request whose client left "gets": nobody reads it, but it is metered under this code. */
const clientClosed = (req: ForwardRequest) => errors.upstreamFailed(req.models[0] ?? "", "the client closed the request");

/** We own `model` and `stream_options`; every other field reaches the provider untouched. */
function upstreamBody(req: ForwardRequest, model: string): Record<string, unknown> {
  const { models: _models, provider: _provider, ...rest } = req.body;
  const body: Record<string, unknown> = { ...rest, model };
  if (req.stream) {
    const opts = typeof rest.stream_options === "object" && rest.stream_options !== null ? rest.stream_options : {};
    body.stream_options = { ...opts, include_usage: true };
  }
  return body;
}

function failure(run: Run): ApiError {
  const { req, attempts } = run;
  const primary = req.models[0] ?? "";
  if (run.clientError) return passThrough(run.clientError);
  const detail = attempts.map((a) => `${a.providerId}: ${a.error?.message ?? "ok"}`).join("; ");
  if (run.outOfTime)
    return errors.deadlineExceeded(primary, run.deps.cfg.totalDeadlineMs, `${attempts.length} attempt(s)${detail ? `: ${detail}` : ""}`);
  if (attempts.length === 0) {
    if (!run.anyKnown) return errors.modelNotFound(primary);
    const excluded = run.exclusions.flat();
    const why = summarizeExclusions(excluded);
    // The request's own size or preferences excluded everyone: a retry cannot help.
    if (excluded.length > 0 && excluded.every((e) => e.reason === "context_too_long"))
      return errors.contextTooLong(primary, req.promptTokens, req.maxOutputTokens);
    return excludedByRequest(excluded) ? errors.noProviderMatches(primary, why) : errors.noProviderAvailable(primary, why);
  }
  const last = attempts[attempts.length - 1]?.error;
  if (attempts.every((a) => a.error?.status === 429) && last) {
    return errors.rateLimited(last.retryAfterMs ?? 1_000, `Every provider for '${primary}' is rate-limited; retry later.`);
  }
  return errors.upstreamFailed(primary, `${attempts.length} attempt(s): ${detail}`);
}

/** A provider's own 4xx reason reaches the client, with its status; a retry will not change it. */
function passThrough(e: UpstreamError) {
  const status = e.status ?? 400;
  const b = e.upstreamBody;
  return errors.fromUpstream(status, b?.type ?? "invalid_request_error", b?.code ?? null, b?.message ?? e.message, b?.param ?? null);
}
