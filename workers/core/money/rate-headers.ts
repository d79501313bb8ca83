/** OpenAI's x-ratelimit-* headers for a key's limits. */
import type { RateInfo } from "./admission";

/** OpenAI's duration format for x-ratelimit-reset-*: "1s", "6m0s", "20ms". */
export function formatResetDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.ceil(ms / 1_000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/** The x-ratelimit-* headers for a key's limits (none for a limit the key does not have). */
export function rateLimitHeaders(r: RateInfo): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.limitRequests !== null) {
    h["x-ratelimit-limit-requests"] = String(r.limitRequests);
    h["x-ratelimit-remaining-requests"] = String(r.remainingRequests);
    h["x-ratelimit-reset-requests"] = formatResetDuration(r.resetRequestsMs ?? 0);
  }
  if (r.limitTokens !== null) {
    h["x-ratelimit-limit-tokens"] = String(r.limitTokens);
    h["x-ratelimit-remaining-tokens"] = String(r.remainingTokens);
    h["x-ratelimit-reset-tokens"] = formatResetDuration(r.resetTokensMs ?? 0);
  }
  return h;
}
