/**
 * The admission algorithm as it was before issue 13 (every request scanned the key's whole 60 s
 * window: `windowTokens` on admit and on the rate figures, a `find` on settle), kept verbatim as
 * the bench's reference so before and after are measured in the same run. Not used by the gateway.
 * `seed` fills a key's window directly (building 100,000 entries through `admit` would take the
 * quadratic time this bench measures).
 */
import type { AdmitRequest, Decision, KeyLimits, RateInfo, Reservation } from "../../workers/core/money/admission";

const WINDOW_MS = 60_000;
interface KeyWindow {
  requests: number[];
  tokens: { atMs: number; tokens: number; requestId: string }[];
  /** Settled spend in the current budget period (loaded from the books, then kept). */
  spentPico: bigint;
  /** Whether spentPico was loaded from the books for this period (a key seen first without a budget was not). */
  spentLoaded: boolean;
}

export class ReferenceAdmission {
  private readonly reservations = new Map<string, Reservation>();
  private readonly keys = new Map<string, KeyWindow>();

  /** `balancePico`: the account's booked balance when this state was loaded. */
  constructor(private balancePico: bigint) {}

  get balance(): bigint {
    return this.balancePico;
  }
  get reservedPico(): bigint {
    let s = 0n;
    for (const r of this.reservations.values()) s += r.amountPico;
    return s;
  }
  get available(): bigint {
    return this.balancePico - this.reservedPico;
  }
  reservationsList(): Reservation[] {
    return [...this.reservations.values()];
  }

  /** Whether this key's spend in the period is known yet (the owner loads it once). */
  knowsKey(keyId: string): boolean {
    return this.keys.get(keyId)?.spentLoaded === true;
  }
  loadKey(keyId: string, spentPico: bigint): void {
    const w = this.keys.get(keyId);
    if (!w) this.keys.set(keyId, { requests: [], tokens: [], spentPico, spentLoaded: true });
    else if (!w.spentLoaded) {
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

  /** Fills a key's window with entries, oldest first (as `admit` would have left them). */
  seed(keyId: string, entries: { atMs: number; tokens: number; requestId: string }[]): void {
    const w = this.window(keyId, entries[0]?.atMs ?? 0);
    for (const e of entries) {
      w.requests.push(e.atMs);
      w.tokens.push({ ...e });
    }
  }

  /** Restores a reservation persisted before an eviction. */
  restore(r: Reservation): void {
    this.reservations.set(r.requestId, r);
  }

  /** A booked change of balance: a credit (grant, deposit), or a negative hold (a withdrawal requested on chain). */
  credit(amountPico: bigint): void {
    if (amountPico === 0n) throw new RangeError("a booked change must not be zero");
    this.balancePico += amountPico;
  }

  admit(req: AdmitRequest): Decision {
    const w = this.window(req.limits.keyId, req.nowMs);
    const rate = () => rateInfo(req.limits, w, req.nowMs);
    if (this.reservations.has(req.requestId)) return { ok: true, rate: rate() }; // a retried admission

    const { rpm, tpm } = req.limits;
    if (rpm !== null && w.requests.length + 1 > rpm) {
      const oldest = w.requests[0];
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
    if (tpm !== null && windowTokens(w) + req.reserveTokens > tpm) {
      return {
        ok: false,
        denial: { kind: "rate_limited", limit: "tokens", retryAfterMs: tokenRetryAfter(w, tpm, req.reserveTokens, req.nowMs) },
        rate: rate(),
      };
    }
    if (req.reservePico > this.available) {
      return { ok: false, denial: { kind: "insufficient_quota", scope: "account", availablePico: this.available }, rate: rate() };
    }
    if (req.limits.budgetPico !== null) {
      const keyAvailable = req.limits.budgetPico - w.spentPico - this.reservedByKey(req.limits.keyId);
      if (req.reservePico > keyAvailable) {
        return { ok: false, denial: { kind: "insufficient_quota", scope: "key", availablePico: keyAvailable }, rate: rate() };
      }
    }
    this.reservations.set(req.requestId, {
      requestId: req.requestId,
      keyId: req.limits.keyId,
      amountPico: req.reservePico,
      tokens: req.reserveTokens,
      atMs: req.nowMs,
      expiresAtMs: req.nowMs + req.ttlMs,
    });
    w.requests.push(req.nowMs);
    w.tokens.push({ atMs: req.nowMs, tokens: req.reserveTokens, requestId: req.requestId });
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
    this.reservations.delete(requestId);
    this.balancePico -= chargePico;
    const w = this.keys.get(r.keyId);
    if (w) {
      w.spentPico += chargePico;
      const entry = w.tokens.find((t) => t.requestId === requestId);
      if (entry) entry.tokens = tokens;
    }
    return true;
  }

  /** Releases the reservations whose requests never reported back; returns them. */
  expire(nowMs: number): Reservation[] {
    const gone = [...this.reservations.values()].filter((r) => r.expiresAtMs <= nowMs);
    for (const r of gone) this.reservations.delete(r.requestId);
    return gone;
  }

  nextExpiryMs(): number | null {
    let next: number | null = null;
    for (const r of this.reservations.values()) if (next === null || r.expiresAtMs < next) next = r.expiresAtMs;
    return next;
  }

  private reservedByKey(keyId: string): bigint {
    let s = 0n;
    for (const r of this.reservations.values()) if (r.keyId === keyId) s += r.amountPico;
    return s;
  }

  private window(keyId: string, nowMs: number): KeyWindow {
    let w = this.keys.get(keyId);
    if (!w) {
      w = { requests: [], tokens: [], spentPico: 0n, spentLoaded: false };
      this.keys.set(keyId, w);
    }
    const since = nowMs - WINDOW_MS;
    while (w.requests.length > 0 && w.requests[0]! <= since) w.requests.shift();
    while (w.tokens.length > 0 && w.tokens[0]!.atMs <= since) w.tokens.shift();
    return w;
  }
}

const windowTokens = (w: KeyWindow) => w.tokens.reduce((s, t) => s + t.tokens, 0);

/** When enough of the window's tokens will have aged out for this request to fit. */
function tokenRetryAfter(w: KeyWindow, tpm: number, need: number, nowMs: number): number {
  if (need > tpm) return WINDOW_MS; // never fits; say a window, the error message says why
  let total = windowTokens(w);
  for (const t of w.tokens) {
    total -= t.tokens;
    if (total + need <= tpm) return Math.max(1, t.atMs + WINDOW_MS - nowMs);
  }
  return WINDOW_MS;
}

function rateInfo(l: KeyLimits, w: KeyWindow, nowMs: number): RateInfo {
  const used = windowTokens(w);
  return {
    limitRequests: l.rpm,
    remainingRequests: l.rpm === null ? null : Math.max(0, l.rpm - w.requests.length),
    resetRequestsMs: l.rpm === null ? null : w.requests.length === 0 ? 0 : Math.max(0, w.requests[0]! + WINDOW_MS - nowMs),
    limitTokens: l.tpm,
    remainingTokens: l.tpm === null ? null : Math.max(0, l.tpm - used),
    resetTokensMs: l.tpm === null ? null : w.tokens.length === 0 ? 0 : Math.max(0, w.tokens[0]!.atMs + WINDOW_MS - nowMs),
  };
}
