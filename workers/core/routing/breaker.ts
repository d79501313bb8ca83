/**
 * A per-provider circuit breaker as pure state transitions (the clock is an argument).
 *
 *   closed ──(failureThreshold consecutive failures)──▶ open
 *   open ──(cooldownMs elapsed; one request admitted as the trial)──▶ half_open
 *   half_open ──success──▶ closed        half_open ──failure──▶ open (cooldown restarts)
 *
 * While half_open only the trial request is admitted. A trial never reported (its request was
 * cancelled before the pipeline recorded an outcome) is presumed lost after another cooldownMs,
 * and a new trial is handed out, so a breaker cannot wedge half-open forever.
 *
 * What counts: the pipeline records a failure for a failover-worthy upstream error (connect,
 * timeout, 5xx before the first byte) and a success once the provider produced its first byte.
 */

export interface BreakerState {
  state: "closed" | "open" | "half_open";
  consecutiveFailures: number;
  /** When the breaker last opened; null while closed. */
  openedAtMs: number | null;
  /** half_open: the single trial request has been handed out and not yet reported. */
  probeInFlight: boolean;
  /** When the trial was handed out; null when none is in flight. */
  probeStartedAtMs: number | null;
}

export interface BreakerPolicy {
  failureThreshold: number;
  cooldownMs: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = { failureThreshold: 3, cooldownMs: 10_000 };

export function initialBreaker(): BreakerState {
  return { state: "closed", consecutiveFailures: 0, openedAtMs: null, probeInFlight: false, probeStartedAtMs: null };
}

export function recordFailure(s: BreakerState, nowMs: number, policy: BreakerPolicy = DEFAULT_BREAKER_POLICY): BreakerState {
  const consecutiveFailures = s.consecutiveFailures + 1;
  switch (s.state) {
    case "closed":
      return consecutiveFailures >= policy.failureThreshold
        ? { state: "open", consecutiveFailures, openedAtMs: nowMs, probeInFlight: false, probeStartedAtMs: null }
        : { ...s, consecutiveFailures };
    case "half_open": // the trial failed: open again for a full cooldown
      return { state: "open", consecutiveFailures, openedAtMs: nowMs, probeInFlight: false, probeStartedAtMs: null };
    case "open": // a late failure of a request admitted before the breaker opened: cooldown unchanged
      return { ...s, consecutiveFailures };
  }
}

/** Any success closes the breaker (a late success while open is still evidence the provider works). */
export function recordSuccess(_s: BreakerState): BreakerState {
  return initialBreaker();
}

const probeLost = (s: BreakerState, nowMs: number, policy: BreakerPolicy) =>
  s.probeStartedAtMs !== null && nowMs - s.probeStartedAtMs >= policy.cooldownMs;

/** Whether a request could be admitted now, without taking the trial (for ranking). */
export function isAvailable(s: BreakerState, nowMs: number, policy: BreakerPolicy = DEFAULT_BREAKER_POLICY): boolean {
  switch (s.state) {
    case "closed":
      return true;
    case "open":
      return s.openedAtMs === null || nowMs - s.openedAtMs >= policy.cooldownMs;
    case "half_open":
      return !s.probeInFlight || probeLost(s, nowMs, policy);
  }
}

/**
 * Admits a request that is about to be sent, or not. Admitting the trial of an open (cooled-down)
 * or half-open breaker marks the trial as in flight in `next`; store `next`.
 */
export function admits(
  s: BreakerState,
  nowMs: number,
  policy: BreakerPolicy = DEFAULT_BREAKER_POLICY,
): { admit: boolean; next: BreakerState } {
  if (s.state === "closed") return { admit: true, next: s };
  if (!isAvailable(s, nowMs, policy)) return { admit: false, next: s };
  return { admit: true, next: { ...s, state: "half_open", probeInFlight: true, probeStartedAtMs: nowMs } };
}

/**
 * The breakers of one isolate: plain data keyed by providerId, no timers, the clock passed in.
 * `rankCandidates` reads `isAvailable` (never takes a trial); the pipeline calls `onAttempt`
 * right before it sends to a provider and skips the provider if it returns false (another
 * request in this isolate took the trial meanwhile), then reports `recordSuccess` / `recordFailure`.
 */
export class BreakerBoard {
  private readonly states = new Map<string, BreakerState>();
  private readonly pausedUntil = new Map<string, number>();
  /** When an operator last resumed a provider: failures of attempts begun before then are not counted. */
  private readonly resetAt = new Map<string, number>();

  constructor(readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY) {}

  get(providerId: string): BreakerState {
    return this.states.get(providerId) ?? initialBreaker();
  }

  isAvailable(providerId: string, nowMs: number): boolean {
    return !this.isPaused(providerId, nowMs) && isAvailable(this.get(providerId), nowMs, this.policy);
  }

  /**
   * A provider that answered 429 with a Retry-After is left alone until then (it is not broken,
   * so the breaker is untouched): the gateway never hammers a rate-limited provider.
   */
  pause(providerId: string, untilMs: number): void {
    this.pausedUntil.set(providerId, Math.max(untilMs, this.pausedUntil.get(providerId) ?? 0));
  }

  /**
   * Forget everything about a provider (an operator resumed it). With `nowMs`, the resume is also a
   * cut-off: a failure reported later for an attempt begun before it (`recordFailure`'s
   * `startedAtMs`) describes what the operator fixed and is not counted.
   */
  reset(providerId: string, nowMs?: number): void {
    this.states.delete(providerId);
    this.pausedUntil.delete(providerId);
    if (nowMs !== undefined) this.resetAt.set(providerId, nowMs);
  }

  private isPaused(providerId: string, nowMs: number): boolean {
    const until = this.pausedUntil.get(providerId);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.pausedUntil.delete(providerId);
    return false;
  }

  /** Call right before sending; false means do not send to this provider now. */
  onAttempt(providerId: string, nowMs: number): boolean {
    if (this.isPaused(providerId, nowMs)) return false;
    const { admit, next } = admits(this.get(providerId), nowMs, this.policy);
    this.put(providerId, next);
    return admit;
  }

  /** The provider answered (first byte); `_nowMs` is accepted for symmetry with recordFailure. */
  recordSuccess(providerId: string, _nowMs?: number): void {
    this.put(providerId, recordSuccess(this.get(providerId)));
  }

  /** `startedAtMs`: when the failed attempt began; before the provider's last reset, it is not counted. */
  recordFailure(providerId: string, nowMs: number, startedAtMs?: number): void {
    const cutoff = this.resetAt.get(providerId);
    if (startedAtMs !== undefined && cutoff !== undefined && startedAtMs < cutoff) return;
    this.put(providerId, recordFailure(this.get(providerId), nowMs, this.policy));
  }

  /** Breakers away from their default (open, half-open, or with recent failures), for logs and admin views. */
  snapshot(): Array<[providerId: string, state: BreakerState]> {
    return [...this.states];
  }

  private put(providerId: string, s: BreakerState): void {
    // Closed with no failures is the default: keep the map as small as the trouble.
    if (s.state === "closed" && s.consecutiveFailures === 0) this.states.delete(providerId);
    else this.states.set(providerId, s);
  }
}
