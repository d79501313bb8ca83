/**
 * Admission before dispatch: the account's Durable Object reserves the request's worst-case cost
 * (prompt estimate × the highest input price + max output tokens × the highest output price among
 * every provider it could fall back to) and counts it against the key's rate limits. Refused:
 * 402 insufficient_quota (not retried by the SDK) or 429 with retry-after. The reservation is
 * settled with the real charge once the request is metered, on every path.
 */
import { errors, type ApiError } from "../core/openai/errors";
import { rateLimitHeaders, type RateInfo } from "../core/money/admission";
import { worstCaseCostPico } from "../core/money/pricing";
import type { Endpoint } from "../core/routing/types";
import type { Deps, KeyRecord } from "../deps";

/** A request that never reports back (its isolate died) gives its reservation back after this. */
const RESERVATION_TTL_MS = 15 * 60_000;

export interface Admitted {
  /** x-ratelimit-* for the key's limits. */
  headers: Record<string, string>;
  /** Releases the reservation and takes the real charge; off the critical path, once. */
  settle(chargePico: bigint, tokens: number): void;
}

export async function admit(deps: Deps, req: {
  requestId: string; key: KeyRecord; models: readonly string[]; endpoint: Endpoint; promptTokens: number; maxOutputTokens: number | null;
}): Promise<Admitted> {
  if (deps.cfg.admission === "off") return { headers: {}, settle: () => undefined };
  const offers = (await deps.routes.table()).offers.filter((o) => req.models.includes(o.model) && o.endpoints.includes(req.endpoint));
  // Nobody serves these models: the request fails before it can cost anything, so nothing to reserve.
  if (offers.length === 0) return { headers: {}, settle: () => undefined };
  const maxOut = req.endpoint === "embeddings" ? 0
    : req.maxOutputTokens ?? Math.max(0, Math.max(...offers.map((o) => o.contextLength)) - req.promptTokens);
  const reservePico = worstCaseCostPico({ promptTokens: req.promptTokens, maxOutputTokens: maxOut }, offers);
  const { key } = req;
  const decision = await deps.guard.admit(key.accountId, {
    requestId: req.requestId, limits: { keyId: key.id, rpm: key.rpm, tpm: key.tpm, budgetPico: key.budgetPico },
    reservePico, reserveTokens: req.promptTokens + maxOut, ttlMs: RESERVATION_TTL_MS, endpoint: req.endpoint,
  });
  const headers = rateLimitHeaders(decision.rate);
  if (!decision.ok) throw withHeaders(refusal(decision.denial, decision.rate), headers);
  let settled = false;
  return {
    headers,
    settle: (chargePico, tokens) => {
      if (settled) return;
      settled = true;
      deps.guard.settle(key.accountId, req.requestId, chargePico, tokens);
    },
  };
}

function refusal(d: Exclude<Awaited<ReturnType<Deps["guard"]["admit"]>>, { ok: true }>["denial"], rate: RateInfo): ApiError {
  if (d.kind === "insufficient_quota") {
    return errors.budgetExhausted(d.scope === "key"
      ? "This API key's monthly budget does not cover this request's maximum cost; lower max_tokens or raise the budget."
      : "The account balance does not cover this request's maximum cost (max_tokens at the highest price); add credit or lower max_tokens.");
  }
  const which = d.limit === "requests" ? `${rate.limitRequests} requests per minute` : `${rate.limitTokens} tokens per minute`;
  return errors.rateLimited(d.retryAfterMs, `Rate limit reached for this API key: ${which}. Try again in ${Math.ceil(d.retryAfterMs / 1000)} s.`);
}

function withHeaders(err: ApiError, headers: Record<string, string>): ApiError {
  Object.assign(err.headers, headers);
  return err;
}
