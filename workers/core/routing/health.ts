/**
 * Who counts as alive, and for how long: the freshness and stake rules ranking applies, and the
 * probe's verdict on one answer. Pure: the clock is an argument.
 *
 * - A provider with a wallet sends its own signed heartbeats (every few seconds): fresh for
 *   `heartbeatFreshMs`. An operator-vouched provider (registered through the admin API, no wallet)
 *   is kept alive by the probe alone, which runs once per probe interval (the cron, 60 s): fresh for
 *   `probedFreshMs`, 2.5 intervals, so a healthy one is routable without a gap between probes and
 *   one late or lost probe does not evict it.
 * - Stake: with a chain configured, a provider with a wallet must hold the minimum stake. An
 *   operator-vouched provider needs none: it signs no receipts, its earnings are never paid on chain
 *   (settlement carries them as `no_address`), and the operator who registered it answers for it.
 */
import type { ProviderOffer } from "./types";

/** The probe cron's period (`*\/1 * * * *` in wrangler.toml). */
export const PROBE_INTERVAL_MS = 60_000;
/** How long a successful probe keeps an operator-vouched provider fresh: 2.5 probe intervals. */
export const PROBED_FRESH_MS = (PROBE_INTERVAL_MS * 5) / 2;

export interface FreshnessPolicy {
  heartbeatFreshMs: number;
  probedFreshMs: number;
}

/** Registered by an operator (no wallet): kept alive by the probe, vouched for by the operator. */
export const isOperatorVouched = (o: Pick<ProviderOffer, "address">): boolean => o.address === null;

/** How old the last heartbeat (or successful probe) may be. Never shorter than the heartbeat window. */
export function freshnessWindowMs(o: Pick<ProviderOffer, "address">, policy: FreshnessPolicy): number {
  return isOperatorVouched(o) ? Math.max(policy.heartbeatFreshMs, policy.probedFreshMs) : policy.heartbeatFreshMs;
}

export function isFresh(o: Pick<ProviderOffer, "address" | "lastHeartbeatMs">, nowMs: number, policy: FreshnessPolicy): boolean {
  return nowMs - o.lastHeartbeatMs <= freshnessWindowMs(o, policy);
}

/** Excluded for its stake: a wallet provider under the minimum; an operator-vouched one never. */
export const lacksStake = (o: Pick<ProviderOffer, "address" | "stakeOk">): boolean => !o.stakeOk && !isOperatorVouched(o);

/** How a probe request ended: answered (first byte), or an upstream error's status (null: no HTTP answer). */
export type ProbeAnswer = { answered: true } | { answered: false; status: number | null; retryAfterMs: number | null };

/**
 * - `up`: answered. Alive; the breaker closes.
 * - `busy`: 429. Alive but rate-limited: left alone until Retry-After (or `defaultPauseMs`), not a failure.
 * - `misfit`: another 4xx. Alive; the probe request is wrong for this provider (log it), not a failure.
 * - `down`: no answer (connect error, reset, timeout), a 408, a redirect (never followed) or a 5xx.
 */
export type ProbeVerdict = { kind: "up" } | { kind: "busy"; pauseUntilMs: number } | { kind: "misfit"; status: number } | { kind: "down" };

export const DEFAULT_PROBE_PAUSE_MS = 1_000;

export function judgeProbe(a: ProbeAnswer, nowMs: number, defaultPauseMs = DEFAULT_PROBE_PAUSE_MS): ProbeVerdict {
  if (a.answered) return { kind: "up" };
  const { status } = a;
  if (status === 429) return { kind: "busy", pauseUntilMs: nowMs + Math.max(0, a.retryAfterMs ?? defaultPauseMs) };
  if (status !== null && status >= 400 && status < 500 && status !== 408) return { kind: "misfit", status };
  return { kind: "down" };
}

/** Alive: the probe stands in for a heartbeat and counts as a success, not a failure. */
export const isAlive = (v: ProbeVerdict): boolean => v.kind !== "down";
