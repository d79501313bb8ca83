/**
 * Failover as a bounded loop over ranked candidates, and across the request's fallback
 * models. Another provider is tried only while the client has seen nothing and only when
 * another provider could help (connect error, timeout, 5xx, 429, a redirect — never followed); a 4xx is the request's own
 * fault and moves to the next fallback model, if any, or reaches the client as it is.
 * A client that leaves stops the loop: the attempt in flight is aborted (through the signal the
 * Upstream port is given), no further candidate is tried, and the provider is not blamed for it.
 */
import { errors, UpstreamError, type ApiError } from "../../core/openai/errors";
import { DEFAULT_ROUTING_POLICY, excludedByRequest, rankCandidates, summarizeExclusions, type Exclusion } from "../../core/routing/rank";
import type { ProviderOffer, RouteTable } from "../../core/routing/types";
import type { Config } from "../../config";
import type { Ports, UpstreamReply } from "../../ports";
import type { InferenceRequest } from "./validate";

/** What forward needs to know: the validated request, whose call it is, and from which edge. */
export interface ForwardRequest extends InferenceRequest {
  requestId: string;
  edge: string;
  /** The client's signal: when it aborts, the attempt in flight is aborted and nothing more is tried. */
  signal?: AbortSignal;
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
  cfg: Pick<Config, "maxAttempts" | "ttftDeadlineMs" | "idleDeadlineMs" | "heartbeatFreshMs">;
};

/** The longest Retry-After we wait out ourselves, when no other provider can serve. */
const MAX_INLINE_RETRY_AFTER_MS = 2_000;
/** How long a provider that said 429 without Retry-After is left alone. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 1_000;

/**
 * Routes and forwards over the route table read once for this request; never throws for a provider's
 * failure. `attempts` is filled as they finish (the caller may share it, to finish a request whose
 * client left while an attempt was still in flight).
 */
export async function forward(deps: ForwardDeps, req: ForwardRequest, table: RouteTable, attempts: Attempt[] = []): Promise<Forwarded> {
  const left = (): Forwarded => ({ ok: false, error: clientClosed(req), attempts, clientLeft: true });
  const tried = new Set<string>();
  let lastClientError: UpstreamError | null = null;
  let shortestRetryAfter: { offer: ProviderOffer; model: string; ms: number } | null = null;
  let anyKnown = false;
  const exclusions: Exclusion[] = [];

  for (const model of req.models) {
    const rank = rankCandidates(
      table,
      {
        model,
        endpoint: req.endpoint,
        edge: req.edge,
        promptTokens: req.promptTokens,
        maxOutputTokens: req.maxOutputTokens,
        steering: req.steering,
        excludeProviderIds: tried,
      },
      { nowMs: deps.now(), breakers: deps.breakers, policy: { ...DEFAULT_ROUTING_POLICY, heartbeatFreshMs: deps.cfg.heartbeatFreshMs } },
    );
    anyKnown ||= rank.modelKnown;
    exclusions.push(...rank.excluded);

    for (const offer of rank.ranked) {
      if (req.signal?.aborted) return left();
      if (attempts.length >= deps.cfg.maxAttempts) break;
      // Another request in this isolate may have taken a half-open breaker's single trial.
      if (!deps.breakers.onAttempt(offer.providerId, deps.now())) continue;
      const served = await attempt(deps, req, offer, model, attempts);
      if (served) return { ok: true, attempts, ...served };
      if (req.signal?.aborted) return left();
      const err = attempts[attempts.length - 1]?.error;
      if (!err) continue;
      if (err.isStall) tried.add(offer.providerId);
      if (err.status === 429 && err.retryAfterMs !== null && (!shortestRetryAfter || err.retryAfterMs < shortestRetryAfter.ms)) {
        shortestRetryAfter = { offer, model, ms: err.retryAfterMs };
      }
      if (!err.canFailover) {
        lastClientError = err;
        break;
      }
    }
    if (attempts.length >= deps.cfg.maxAttempts) break;
  }

  // Every candidate was rate-limited and one asked for a short wait: wait once, not hammer.
  const onlyRateLimited = attempts.length > 0 && attempts.every((a) => a.error?.status === 429);
  if (onlyRateLimited && shortestRetryAfter && shortestRetryAfter.ms <= MAX_INLINE_RETRY_AFTER_MS) {
    await pause(shortestRetryAfter.ms, req.signal);
    if (req.signal?.aborted) return left();
    const served = await attempt(deps, req, shortestRetryAfter.offer, shortestRetryAfter.model, attempts);
    if (served) return { ok: true, attempts, ...served };
    if (req.signal?.aborted) return left();
  }
  if (req.signal?.aborted) return left();
  return { ok: false, error: failure(req, attempts, lastClientError, anyKnown, exclusions), attempts, clientLeft: false };
}

async function attempt(
  deps: ForwardDeps,
  req: ForwardRequest,
  offer: ProviderOffer,
  model: string,
  attempts: Attempt[],
): Promise<Served | null> {
  const started = deps.now();
  try {
    const reply = await deps.upstream.send({
      offer,
      path: req.path,
      stream: req.stream,
      requestId: req.requestId,
      body: JSON.stringify(upstreamBody(req, model)),
      deadlineMs: req.stream ? deps.cfg.ttftDeadlineMs : Math.max(deps.cfg.ttftDeadlineMs, deps.cfg.idleDeadlineMs),
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
    // A 429 or a 4xx says nothing about the provider's health; the rest counts against it.
    if (e.canFailover && e.status !== 429) deps.breakers.recordFailure(offer.providerId, deps.now());
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

function failure(
  req: ForwardRequest,
  attempts: Attempt[],
  clientError: UpstreamError | null,
  anyKnown: boolean,
  excluded: Exclusion[],
): ApiError {
  const primary = req.models[0] ?? "";
  if (clientError) return passThrough(clientError);
  if (attempts.length === 0) {
    if (!anyKnown) return errors.modelNotFound(primary);
    const detail = summarizeExclusions(excluded);
    // The request's own size or preferences excluded everyone: a retry cannot help.
    if (excluded.length > 0 && excluded.every((e) => e.reason === "context_too_long"))
      return errors.contextTooLong(primary, req.promptTokens, req.maxOutputTokens);
    return excludedByRequest(excluded) ? errors.noProviderMatches(primary, detail) : errors.noProviderAvailable(primary, detail);
  }
  const last = attempts[attempts.length - 1]?.error;
  if (attempts.every((a) => a.error?.status === 429) && last) {
    return errors.rateLimited(last.retryAfterMs ?? 1_000, `Every provider for '${primary}' is rate-limited; retry later.`);
  }
  const detail = attempts.map((a) => `${a.providerId}: ${a.error?.message ?? "ok"}`).join("; ");
  return errors.upstreamFailed(primary, `${attempts.length} attempt(s): ${detail}`);
}

/** A provider's own 4xx reason reaches the client, with its status; a retry will not change it. */
function passThrough(e: UpstreamError) {
  const status = e.status ?? 400;
  const b = e.upstreamBody;
  return errors.fromUpstream(status, b?.type ?? "invalid_request_error", b?.code ?? null, b?.message ?? e.message, b?.param ?? null);
}
