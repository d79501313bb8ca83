/**
 * Admit: the account's Durable Object reserves the request's worst-case cost (prompt estimate ×
 * the highest input price + max output tokens × the highest output price among every provider it
 * could fall back to) and counts it against the key's rate limits. Refused: 402 insufficient_quota
 * (not retried by the SDK) or 429 with retry-after. The reservation is settled with the real charge
 * when the request finishes, on every path.
 */
import { rateLimitHeaders, type Denial, type RateInfo } from "../../core/money/admission";
import { worstCaseCostPico } from "../../core/money/pricing";
import { ApiError, errors } from "../../core/openai/errors";
import { worstCaseOf } from "../../core/routing/route-index";
import type { RouteTable } from "../../core/routing/types";
import type { Deps } from "../../ports";
import type { InferenceCall, InferenceRequest } from "./validate";

/** A request that never reports back (its isolate died) gives its reservation back after this. */
const RESERVATION_TTL_MS = 15 * 60_000;

export interface Admitted {
  /** x-ratelimit-* for the key's limits. */
  headers: Record<string, string>;
  /** Releases the reservation and takes the real charge; off the critical path, once. */
  settle(chargePico: bigint, tokens: number): void;
}

export const NOTHING_RESERVED: Admitted = { headers: {}, settle: () => undefined };

/** The request's reservation, released with the real charge at most once, whichever path gets there first. */
export function reservationOf(deps: Pick<Deps, "guard">, call: InferenceCall, headers: Record<string, string>): Admitted {
  let settled = false;
  return {
    headers,
    settle: (chargePico, tokens) => {
      if (settled) return;
      settled = true;
      deps.guard.settle(call.key.accountId, call.requestId, chargePico, tokens);
    },
  };
}

export async function admit(
  deps: Pick<Deps, "guard" | "cfg">,
  call: InferenceCall,
  req: InferenceRequest,
  table: RouteTable,
): Promise<Admitted> {
  if (deps.cfg.admission === "off") return NOTHING_RESERVED;
  // The highest prices and context length of these models' offers, precomputed when the table loaded.
  const worst = worstCaseOf(table, req.models, req.endpoint);
  // Nobody serves these models: the request fails before it can cost anything, so nothing to reserve.
  if (!worst) return NOTHING_RESERVED;
  const maxOut = req.endpoint === "embeddings" ? 0 : (req.maxOutputTokens ?? Math.max(0, worst.contextLength - req.promptTokens));
  const reservePico = worstCaseCostPico({ promptTokens: req.promptTokens, maxOutputTokens: maxOut }, worst);
  const { key, requestId } = call;
  const decision = await deps.guard.admit(key.accountId, {
    requestId,
    limits: { keyId: key.id, rpm: key.rpm, tpm: key.tpm, budgetPico: key.budgetPico },
    reservePico,
    reserveTokens: req.promptTokens + maxOut,
    ttlMs: RESERVATION_TTL_MS,
    endpoint: req.endpoint,
  });
  const headers = rateLimitHeaders(decision.rate);
  if (!decision.ok) throw refusal(decision.denial, decision.rate, headers);
  return reservationOf(deps, call, headers);
}

function refusal(d: Denial, rate: RateInfo, headers: Record<string, string>): ApiError {
  if (d.kind === "insufficient_quota") {
    return errors
      .budgetExhausted(
        d.scope === "key"
          ? "This API key's monthly budget does not cover this request's maximum cost; lower max_tokens or raise the budget."
          : "The account balance does not cover this request's maximum cost (max_tokens at the highest price); add credit or lower max_tokens.",
      )
      .withHeaders(headers);
  }
  const which = d.limit === "requests" ? `${rate.limitRequests} requests per minute` : `${rate.limitTokens} tokens per minute`;
  return errors
    .rateLimited(d.retryAfterMs, `Rate limit reached for this API key: ${which}. Try again in ${Math.ceil(d.retryAfterMs / 1000)} s.`)
    .withHeaders(headers);
}
