/**
 * Leases, on the isolate's side: what is left of a slice the account's Durable Object granted
 * (lease-book.ts), spent by requests without a call, and the demand that sizes the next one.
 * Pure: the clock is an argument.
 *
 * Time: the object holds a lease until `ttlMs` after it granted it; the isolate stops spending it
 * LEASE_GRACE_MS earlier, counted from when it ASKED (before the grant, whatever the delay), so
 * its use reports (sent within the settle window) reach the object while the lease is still held.
 */
import type { KeyLimits, RateInfo } from "./admission";
import type { LeaseGrant, LeaseSpend } from "./lease-book";

/** How long the object holds a lease without a renewal. */
export const LEASE_TTL_MS = 10_000;
/** The isolate stops spending a lease this long before the object could let it go. */
export const LEASE_GRACE_MS = 3_000;
/** A lease is renewed when less than this much of its life is left (or less than half its size). */
export const RENEW_BEFORE_MS = 4_000;
/** A lease nobody used for this long goes back. */
export const IDLE_RETURN_MS = 2_000;
/** A lease is sized for this much of the key's recent traffic. */
export const LEASE_HORIZON_MS = 2_000;
/** The most requests one lease is sized for. */
export const MAX_LEASE_REQUESTS = 5_000;

export interface LeaseNeed {
  reservePico: bigint;
  reserveTokens: number;
}

const sameLimits = (a: KeyLimits, b: KeyLimits) => a.rpm === b.rpm && a.tpm === b.tpm && a.budgetPico === b.budgetPico;

export class LocalLease {
  private pico = 0n;
  private requests = 0;
  private tokens = 0;
  /** What the lease was last sized to: renewal when less than half is left. */
  private sizePico = 0n;
  private sizeRequests = 0;
  private sizeTokens = 0;
  private validUntilMs = 0;
  private rate: RateInfo;
  /** What requests drew from it: sent with its return, for the uses still on their way. */
  readonly spent: LeaseSpend = { uses: 0, pico: 0n, requests: 0, tokens: 0 };
  lastUseMs: number;

  constructor(
    readonly leaseId: string,
    readonly limits: KeyLimits,
    grant: LeaseGrant,
    askedAtMs: number,
  ) {
    this.rate = grant.rate;
    this.lastUseMs = askedAtMs;
    this.topUp(grant, askedAtMs);
  }

  /** A grant or top-up from the object, for a call made at `askedAtMs`. */
  topUp(grant: LeaseGrant, askedAtMs: number): void {
    this.pico += grant.addedPico;
    this.requests += grant.addedRequests;
    this.tokens += grant.addedTokens;
    this.sizePico = this.pico;
    this.sizeRequests = this.requests;
    this.sizeTokens = this.tokens;
    this.validUntilMs = Math.max(this.validUntilMs, askedAtMs + grant.ttlMs - LEASE_GRACE_MS);
    this.rate = grant.rate;
  }

  /** Spends the lease on a request, or null when it does not cover it (the caller then asks the object). */
  take(need: LeaseNeed, limits: KeyLimits, nowMs: number): RateInfo | null {
    if (nowMs >= this.validUntilMs || !sameLimits(limits, this.limits)) return null;
    if (need.reservePico > this.pico) return null;
    if (limits.rpm !== null && this.requests < 1) return null;
    if (limits.tpm !== null && need.reserveTokens > this.tokens) return null;
    this.pico -= need.reservePico;
    if (limits.rpm !== null) this.requests -= 1;
    if (limits.tpm !== null) this.tokens -= need.reserveTokens;
    this.spent.uses++;
    this.spent.pico += need.reservePico;
    this.spent.requests++;
    this.spent.tokens += need.reserveTokens;
    this.lastUseMs = nowMs;
    return this.rateInfo();
  }

  /**
   * The key's limits for a request spent here: the object's count at the last grant (which took
   * this lease's allowance as used) plus what of it is still unused. Approximate: other isolates'
   * traffic since that grant is not in it, and a renewal racing a burst may repeat a figure.
   */
  rateInfo(): RateInfo {
    const r = this.rate;
    return {
      ...r,
      remainingRequests: r.remainingRequests === null ? null : r.remainingRequests + this.requests,
      remainingTokens: r.remainingTokens === null ? null : r.remainingTokens + this.tokens,
    };
  }

  valid(nowMs: number): boolean {
    return nowMs < this.validUntilMs;
  }

  wantsRenewal(nowMs: number): boolean {
    return (
      this.validUntilMs - nowMs < RENEW_BEFORE_MS ||
      this.pico * 2n < this.sizePico ||
      this.requests * 2 < this.sizeRequests ||
      this.tokens * 2 < this.sizeTokens
    );
  }

  idle(nowMs: number): boolean {
    return nowMs - this.lastUseMs >= IDLE_RETURN_MS;
  }
}

/**
 * A key's recent demand in this isolate: requests, and the largest worst case and token
 * reservation among them, over the last LEASE_HORIZON_MS (two half-horizon buckets).
 */
export class DemandMeter {
  private bucketAtMs = 0;
  private current = { requests: 0, pico: 0n, tokens: 0 };
  private previous = { requests: 0, pico: 0n, tokens: 0 };

  note(nowMs: number, need: LeaseNeed): void {
    this.roll(nowMs);
    const c = this.current;
    c.requests++;
    if (need.reservePico > c.pico) c.pico = need.reservePico;
    if (need.reserveTokens > c.tokens) c.tokens = need.reserveTokens;
  }

  /** What a lease should be sized to, or null while demand is too thin for one (fewer than two requests). */
  want(nowMs: number): { wantRequests: number; perRequestPico: bigint; perRequestTokens: number } | null {
    this.roll(nowMs);
    const requests = this.current.requests + this.previous.requests;
    if (requests < 2) return null;
    return {
      // The requests of the last horizon, doubled: renewal comes at half.
      wantRequests: Math.min(MAX_LEASE_REQUESTS, requests * 2),
      perRequestPico: this.current.pico > this.previous.pico ? this.current.pico : this.previous.pico,
      perRequestTokens: Math.max(this.current.tokens, this.previous.tokens),
    };
  }

  private roll(nowMs: number): void {
    const half = LEASE_HORIZON_MS / 2;
    const elapsed = nowMs - this.bucketAtMs;
    if (elapsed < half) return;
    this.previous = elapsed < 2 * half ? this.current : { requests: 0, pico: 0n, tokens: 0 };
    this.current = { requests: 0, pico: 0n, tokens: 0 };
    this.bucketAtMs = nowMs - (elapsed % half);
  }
}
