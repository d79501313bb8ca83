/**
 * The retry policy and the deadlines of forward (pipeline/inference/forward.ts), as pure decisions:
 * what a provider's failure allows next, how long one attempt may take, and whether a wait fits.
 * The clock is an argument; nothing here sleeps or sends.
 */
import type { UpstreamError } from "../openai/errors";

/**
 * What a failed attempt allows, before the client has seen anything:
 * - `transient`: a 5xx, a 408, a connect error or a reset: another provider of the model, else the same one once;
 * - `stall`: no answer within the attempt's deadline: another provider, never the same one again;
 * - `rate_limited`: a 429: another provider; its Retry-After may be waited out (`retryAfterWaitFits`);
 * - `provider`: the provider misbehaved or does not serve the model (a redirect, a model-level 404): another provider;
 * - `next_model`: the request does not fit this model (context length): no other provider of it, the next fallback model;
 * - `final`: a 4xx that will repeat (400, 401, 403, 404, 413, 422, …): nothing more is tried, its reason reaches the client.
 */
export type FailureKind = "transient" | "stall" | "rate_limited" | "provider" | "next_model" | "final";

export function classifyFailure(e: UpstreamError): FailureKind {
  if (e.status === null) return e.isStall ? "stall" : "transient";
  if (e.status === 429) return "rate_limited";
  if (e.status === 408 || e.status >= 500) return "transient";
  if (e.status >= 300 && e.status < 400) return "provider";
  if (e.status === 404 && isModelNotFound(e)) return "provider";
  if (e.status === 400 && isContextLength(e)) return "next_model";
  return "final";
}

/** The provider does not serve the model (a stale registration), as opposed to a path or resource it does not know. */
function isModelNotFound(e: UpstreamError): boolean {
  const b = e.upstreamBody;
  if (b?.code === "model_not_found") return true;
  return /\bmodel\b/i.test(b?.message ?? "") && /(does not exist|not found|not served|unknown)/i.test(b?.message ?? "");
}

/** OpenAI's code, or vLLM's wording ("This model's maximum context length is 8192 tokens…"). */
function isContextLength(e: UpstreamError): boolean {
  const b = e.upstreamBody;
  return b?.code === "context_length_exceeded" || /context (length|window)/i.test(b?.message ?? "");
}

/** A non-streamed attempt's allowance per output token it may generate (a floor of 20 tokens/s). */
export const NON_STREAM_MS_PER_TOKEN = 50;
/** No attempt is started with less than this left of the request's total budget. */
export const MIN_ATTEMPT_MS = 250;
/** The longest Retry-After the gateway waits out itself (then retries the same model). */
export const MAX_RETRY_AFTER_WAIT_MS = 5_000;

export interface DeadlineInput {
  stream: boolean;
  /** Embeddings generate nothing: their answer is due within the TTFT deadline. */
  generates: boolean;
  ttftDeadlineMs: number;
  /** max_tokens / max_completion_tokens, when the client gave one. */
  maxOutputTokens: number | null;
  /** Without max_tokens the output is bounded by what the provider's context leaves after the prompt. */
  contextLength: number;
  promptTokens: number;
}

/**
 * How long one attempt may wait for its answer before it is abandoned as a stall, before the total cap:
 * a stream's first byte within TTFT_DEADLINE_MS; a non-streamed answer (whose first byte comes only
 * once the whole answer is done) within TTFT_DEADLINE_MS + NON_STREAM_MS_PER_TOKEN × the output
 * tokens it may generate (max_tokens, else the context left after the prompt).
 */
export function attemptDeadlineMs(d: DeadlineInput): number {
  if (d.stream || !d.generates) return d.ttftDeadlineMs;
  const tokens = d.maxOutputTokens ?? Math.max(0, d.contextLength - d.promptTokens);
  return d.ttftDeadlineMs + NON_STREAM_MS_PER_TOKEN * tokens;
}

/** The total budget of one request: it ends `totalDeadlineMs` after the call started. */
export interface Budget {
  endsAtMs: number;
}

export const budgetOf = (startedAtMs: number, totalDeadlineMs: number): Budget => ({ endsAtMs: startedAtMs + totalDeadlineMs });
export const timeLeftMs = (b: Budget, nowMs: number): number => Math.max(0, b.endsAtMs - nowMs);

/**
 * The deadline an attempt starting now gets, or null when none may start (less than MIN_ATTEMPT_MS left).
 * `capped`: the total budget, not the attempt's own deadline, is what limits it.
 */
export function fitAttempt(b: Budget, nowMs: number, ownDeadlineMs: number): { deadlineMs: number; capped: boolean } | null {
  const left = timeLeftMs(b, nowMs);
  if (left < MIN_ATTEMPT_MS) return null;
  return left < ownDeadlineMs ? { deadlineMs: left, capped: true } : { deadlineMs: ownDeadlineMs, capped: false };
}

/** A Retry-After is waited out only when it is short and the wait leaves room for the attempt after it. */
export function retryAfterWaitFits(b: Budget, nowMs: number, retryAfterMs: number): boolean {
  return retryAfterMs <= MAX_RETRY_AFTER_WAIT_MS && retryAfterMs + MIN_ATTEMPT_MS <= timeLeftMs(b, nowMs);
}
