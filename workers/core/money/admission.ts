/**
 * Admission for one customer account: balance reservations, per-key budgets and per-key rate
 * limits, as pure state that a Durable Object owns (one per account, so every isolate sees one
 * figure). Deterministic given `nowMs`; no I/O.
 *
 * Money: a request reserves its worst-case cost before dispatch; the reservation is released and
 * the real charge taken when it reports back, or released unused when it expires. So the account
 * can never be overspent by more than what is in flight beyond its worst case (which is zero when
 * the worst case is honest: max prices × max tokens).
 *
 * Rate limits: sliding 60-second windows per key, requests and tokens (prompt + completion). A
 * request counts its prompt estimate plus its max output tokens at admission, corrected to the
 * real count when it reports back (as OpenAI counts max_tokens against TPM). The windows are
 * running sums (`rate-window.ts`): admit and settle cost the same at 10 or 100,000 entries, and a
 * key with no rate limit keeps no window at all (one that gets a limit starts counting then).
 * Reservations are running sums too (the account's and each key's).
 */

import type { Endpoint } from "../routing/types";
import { RateWindow, type StepCounter, WINDOW_MS } from "./rate-window";

export interface KeyLimits {
  keyId: string;
  rpm: number | null;
  tpm: number | null;
  /** The key's own spending cap for the current period, in pico-USDC; null = the account balance only. */
  budgetPico: bigint | null;
}

export interface AdmitRequest {
  requestId: string;
  limits: KeyLimits;
  /** Worst-case cost of the request (pico-USDC). */
  reservePico: bigint;
  /** Worst-case tokens: prompt estimate + max output tokens. */
  reserveTokens: number;
  nowMs: number;
  /** After this long without a report the reservation is released (the request died with its isolate). */
  ttlMs: number;
}

export interface RateInfo {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

export type Denial =
  | { kind: "insufficient_quota"; scope: "account" | "key"; availablePico: bigint }
  | { kind: "rate_limited"; limit: "requests" | "tokens"; retryAfterMs: number };

export type Decision = { ok: true; rate: RateInfo } | { ok: false; denial: Denial; rate: RateInfo };

export interface Reservation {
  requestId: string;
  keyId: string;
  amountPico: bigint;
  tokens: number;
  atMs: number;
  expiresAtMs: number;
}

export { WINDOW_MS, type StepCounter } from "./rate-window";
export { formatResetDuration, rateLimitHeaders } from "./rate-headers";

export interface KeyWindow {
  /** The key's rate window; filled only while the key has a rate limit (a key with none computes nothing). */
  rate: RateWindow;
  /** What the key's live reservations hold, kept as a running sum. */
  reservedPico: bigint;
  /** Settled spend in the current budget period (loaded from the books, then kept). */
  spentPico: bigint;
  /** Whether spentPico was loaded from the books for this period (a key seen first without a budget was not). */
  spentLoaded: boolean;
  /** Requests and tokens granted to isolates' leases and not yet used there (lease-book.ts): counted as taken. */
  leasedRequests: number;
  leasedTokens: number;
}

export const NO_RATE: RateInfo = {
  limitRequests: null,
  remainingRequests: null,
  resetRequestsMs: null,
  limitTokens: null,
  remainingTokens: null,
  resetTokensMs: null,
};

export const limited = (l: KeyLimits) => l.rpm !== null || l.tpm !== null;

export class AccountAdmission {
  protected readonly reservations = new Map<string, Reservation>();
  private readonly keys = new Map<string, KeyWindow>();
  private reservedSum = 0n;

  /**
   * `balancePico`: the account's booked balance when this state was loaded. `counter`: counts the
   * rate-window entries each operation touches (a test's measure of cost; none in production).
   */
  constructor(
    private balancePico: bigint,
    private readonly counter?: StepCounter,
  ) {}

  get balance(): bigint {
    return this.balancePico;
  }
  get reservedPico(): bigint {
    return this.reservedSum;
  }
  get available(): bigint {
    return this.balancePico - this.reservedSum;
  }
  reservationsList(): Reservation[] {
    return [...this.reservations.values()];
  }
  reservation(requestId: string): Reservation | undefined {
    return this.reservations.get(requestId);
  }

  /** Whether this key's spend in the period is known yet (the owner loads it once). */
  knowsKey(keyId: string): boolean {
    return this.keys.get(keyId)?.spentLoaded === true;
  }
  loadKey(keyId: string, spentPico: bigint): void {
    const w = this.keyWindow(keyId);
    if (!w.spentLoaded) {
      w.spentPico = spentPico;
      w.spentLoaded = true;
    }
  }
  /** A new budget period: every key's spend is read from the books again. */
  forgetKeySpend(): void {
    for (const w of this.keys.values()) {
      w.spentPico = 0n;
      w.spentLoaded = false;
    }
  }

  /** Restores a reservation persisted before an eviction. */
  restore(r: Reservation): void {
    if (this.reservations.has(r.requestId)) return;
    this.hold(r);
  }

  /** A booked change of balance: a credit (grant, deposit), or a negative hold (a withdrawal requested on chain). */
  credit(amountPico: bigint): void {
    if (amountPico === 0n) throw new RangeError("a booked change must not be zero");
    this.balancePico += amountPico;
  }

  admit(req: AdmitRequest): Decision {
    const w = this.keyWindow(req.limits.keyId);
    const isLimited = limited(req.limits);
    if (isLimited) w.rate.advance(req.nowMs);
    const rate = () => (isLimited ? rateInfo(req.limits, w, req.nowMs) : NO_RATE);
    if (this.reservations.has(req.requestId)) return { ok: true, rate: rate() }; // a retried admission

    const { rpm, tpm } = req.limits;
    if (rpm !== null && w.rate.requests + w.leasedRequests + 1 > rpm) {
      const oldest = w.rate.oldestAtMs;
      return {
        ok: false,
        denial: {
          kind: "rate_limited",
          limit: "requests",
          retryAfterMs: oldest === undefined ? WINDOW_MS : oldest + WINDOW_MS - req.nowMs,
        },
        rate: rate(),
      };
    }
    if (tpm !== null && w.rate.tokens + w.leasedTokens + req.reserveTokens > tpm) {
      return {
        ok: false,
        denial: {
          kind: "rate_limited",
          limit: "tokens",
          retryAfterMs: w.rate.tokenRetryAfter(tpm - w.leasedTokens, req.reserveTokens, req.nowMs),
        },
        rate: rate(),
      };
    }
    if (req.reservePico > this.available) {
      return { ok: false, denial: { kind: "insufficient_quota", scope: "account", availablePico: this.available }, rate: rate() };
    }
    if (req.limits.budgetPico !== null) {
      const keyAvailable = req.limits.budgetPico - w.spentPico - w.reservedPico;
      if (req.reservePico > keyAvailable) {
        return { ok: false, denial: { kind: "insufficient_quota", scope: "key", availablePico: keyAvailable }, rate: rate() };
      }
    }
    this.hold({
      requestId: req.requestId,
      keyId: req.limits.keyId,
      amountPico: req.reservePico,
      tokens: req.reserveTokens,
      atMs: req.nowMs,
      expiresAtMs: req.nowMs + req.ttlMs,
    });
    if (isLimited) w.rate.push(req.requestId, req.nowMs, req.reserveTokens);
    return { ok: true, rate: rate() };
  }

  /**
   * The request reported back: its reservation is released and the real charge taken. Returns
   * false for an unknown (already settled or expired) request, which is then not charged here:
   * its charge reaches the books through its usage event, and the balance on the next load.
   */
  settle(requestId: string, chargePico: bigint, tokens: number): boolean {
    if (chargePico < 0n) throw new RangeError(`a charge must not be negative, got ${chargePico}`);
    const r = this.reservations.get(requestId);
    if (!r) return false;
    const w = this.release(r);
    this.balancePico -= chargePico;
    w.spentPico += chargePico;
    w.rate.correct(requestId, tokens);
    return true;
  }

  /** Releases the reservations whose requests never reported back; returns them. */
  expire(nowMs: number): Reservation[] {
    const gone = [...this.reservations.values()].filter((r) => r.expiresAtMs <= nowMs);
    for (const r of gone) this.release(r);
    return gone;
  }

  nextExpiryMs(): number | null {
    let next: number | null = null;
    for (const r of this.reservations.values()) if (next === null || r.expiresAtMs < next) next = r.expiresAtMs;
    return next;
  }

  protected hold(r: Reservation): void {
    this.reservations.set(r.requestId, r);
    this.reservedSum += r.amountPico;
    this.keyWindow(r.keyId).reservedPico += r.amountPico;
  }

  protected release(r: Reservation): KeyWindow {
    this.reservations.delete(r.requestId);
    this.reservedSum -= r.amountPico;
    const w = this.keyWindow(r.keyId);
    w.reservedPico -= r.amountPico;
    return w;
  }

  protected keyWindow(keyId: string): KeyWindow {
    let w = this.keys.get(keyId);
    if (!w) {
      w = { rate: new RateWindow(this.counter), reservedPico: 0n, spentPico: 0n, spentLoaded: false, leasedRequests: 0, leasedTokens: 0 };
      this.keys.set(keyId, w);
    }
    return w;
  }
}

/** The key's limits as the window and the leases stand: what is leased counts as taken. */
export function rateInfo(l: KeyLimits, kw: KeyWindow, nowMs: number): RateInfo {
  const w = kw.rate;
  const oldest = w.oldestAtMs;
  const reset = oldest === undefined ? 0 : Math.max(0, oldest + WINDOW_MS - nowMs);
  return {
    limitRequests: l.rpm,
    remainingRequests: l.rpm === null ? null : Math.max(0, l.rpm - w.requests - kw.leasedRequests),
    resetRequestsMs: l.rpm === null ? null : reset,
    limitTokens: l.tpm,
    remainingTokens: l.tpm === null ? null : Math.max(0, l.tpm - w.tokens - kw.leasedTokens),
    resetTokensMs: l.tpm === null ? null : reset,
  };
}

/** What an isolate asks of the account's guard: the admission request, less the clock (the guard's own). */
export type GuardAdmit = Omit<AdmitRequest, "nowMs"> & { endpoint: Endpoint };
/** A request that reported back: its reservation released and the real charge taken. */
export interface GuardSettle {
  kind?: "settle";
  requestId: string;
  chargePico: bigint;
  tokens: number;
}
