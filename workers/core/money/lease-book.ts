/**
 * Leases, on the authority's side: the account's Durable Object grants an isolate a slice of the
 * account's free balance, of a key's budget and of its rate allowance, which the isolate spends on
 * requests without calling the object (core/money/local-lease.ts). A lease IS a reservation: its
 * balance is held as one (`lease:<id>`, so it counts against the account and the key, survives an
 * eviction in storage and expires by the alarm), and its request and token allowance is counted
 * as taken in the key's window. Each use is reported within the isolate's settle window (a "use"
 * message): the amount moves from the lease's hold to the request's own reservation (written to
 * Postgres as every reservation is) and the request enters the window when the report arrives
 * (never earlier than it was made, so the window never undercounts). The rest goes back when the
 * isolate returns the lease, or when it expires.
 *
 * Sizing, so that leases cannot starve other isolates: a grant takes at most a quarter of what is
 * free to it (balance, key budget, requests, tokens), and all of an account's (a key's) leases
 * together hold at most half of what is free plus leased. So a request refused for want of balance
 * or allowance asked for more than half of what was really free, and only for as long as the other
 * isolates' leases live (their idle return, at most the lease TTL). An isolate's own lease never
 * causes its refusal: it returns the lease in the same call as a direct admission.
 */
import { AccountAdmission, type KeyWindow, limited, NO_RATE, rateInfo, type Reservation } from "./admission";
import type { LeaseAsk, LeaseGrant, LeaseSpend, LeaseUse } from "./lease-messages";

export type { GuardMessage, LeaseAsk, LeaseGrant, LeaseReturn, LeaseSpend, LeaseUse } from "./lease-messages";

export const LEASE_PREFIX = "lease:";
/** A lease smaller than this many requests is not worth its bookkeeping: the isolate calls directly. */
export const MIN_LEASE_REQUESTS = 2;
/** One grant's share of what is free to it. */
const GRANT_DIVISOR = 4n;
/** All leases together hold at most this share of free + leased. */
const ALL_LEASES_DIVISOR = 2n;

interface LeaseRecord {
  keyId: string;
  /** Requests and tokens of the allowance still unused (0 for a limit the key did not have at grant). */
  requests: number;
  tokens: number;
  limited: boolean;
  /** Uses already applied: a message delivered twice is applied once. */
  used: Set<string>;
  /** What the uses that arrived held. */
  reportedPico: bigint;
  reportedTokens: number;
  /** Returned with this many uses still to arrive: what they hold is kept until then. */
  awaiting: number | null;
}

/** A settle that overtook its request's use (another call carried it) is kept this long for the use. */
const EARLY_SETTLE_MS = 5 * 60_000;
const MAX_EARLY_SETTLES = 10_000;

const minBig = (a: bigint, b: bigint) => (a < b ? a : b);
const clampBig = (v: bigint) => (v < 0n ? 0n : v);
const floorDiv = (a: number, b: number) => (b <= 0 ? Number.POSITIVE_INFINITY : Math.floor(a / b));

export class LeasedAdmission extends AccountAdmission {
  private readonly leases = new Map<string, LeaseRecord>();
  /** Settles of requests the object does not know (yet): a use carried by another call may follow. */
  private readonly earlySettles = new Map<string, { chargePico: bigint; tokens: number; atMs: number }>();

  /** Leases granted and not yet returned or expired. */
  get leaseCount(): number {
    return this.leases.size;
  }

  /** What leases hold (restored ones included): part of reservedPico. */
  get leasedPico(): bigint {
    let sum = 0n;
    for (const r of this.reservations.values()) if (r.requestId.startsWith(LEASE_PREFIX)) sum += r.amountPico;
    return sum;
  }

  /** Grants or tops up a lease; null when too little is free for MIN_LEASE_REQUESTS (or a top-up of a lease that is gone). */
  lease(ask: LeaseAsk, nowMs: number): LeaseGrant | null {
    const { limits } = ask;
    const w = this.keyWindow(limits.keyId);
    const isLimited = limited(limits);
    if (isLimited) w.rate.advance(nowMs);
    const holdId = LEASE_PREFIX + ask.leaseId;
    const held = this.reservations.get(holdId);
    if (ask.topUp && (!held || this.leases.get(ask.leaseId)?.awaiting != null)) return null;
    if (!ask.topUp && held) return null; // an id is granted once
    const rec = this.leases.get(ask.leaseId);
    const own = { pico: held?.amountPico ?? 0n, requests: rec?.requests ?? 0, tokens: rec?.tokens ?? 0 };
    const totals = this.leasedTotals(limits.keyId);

    let n = ask.wantRequests;
    if (ask.perRequestPico > 0n) {
      const free = this.available + own.pico;
      let cap = minBig(free / GRANT_DIVISOR, (this.available + totals.pico) / ALL_LEASES_DIVISOR - (totals.pico - own.pico));
      if (limits.budgetPico !== null) {
        const keyFree = limits.budgetPico - w.spentPico - w.reservedPico + own.pico;
        const keyLeased = totals.keyPico;
        cap = minBig(cap, minBig(keyFree / GRANT_DIVISOR, (keyFree - own.pico + keyLeased) / ALL_LEASES_DIVISOR - (keyLeased - own.pico)));
      }
      n = Math.min(n, Number(clampBig(cap) / ask.perRequestPico));
    }
    if (limits.rpm !== null) {
      const free = limits.rpm - w.rate.requests - w.leasedRequests + own.requests;
      const all = limits.rpm - w.rate.requests;
      n = Math.min(n, Math.floor(free / 4), Math.floor(all / 2) - (w.leasedRequests - own.requests));
    }
    if (limits.tpm !== null) {
      const free = limits.tpm - w.rate.tokens - w.leasedTokens + own.tokens;
      const all = limits.tpm - w.rate.tokens;
      n = Math.min(n, floorDiv(free / 4, ask.perRequestTokens), floorDiv(all / 2 - (w.leasedTokens - own.tokens), ask.perRequestTokens));
    }
    if (!held && n < MIN_LEASE_REQUESTS) return null;
    n = Math.max(0, n);

    const addedPico = clampBig(BigInt(n) * ask.perRequestPico - own.pico);
    const addedRequests = limits.rpm === null ? 0 : Math.max(0, n - own.requests);
    const addedTokens = limits.tpm === null ? 0 : Math.max(0, n * ask.perRequestTokens - own.tokens);
    if (held) this.release(held);
    this.hold({
      requestId: holdId,
      keyId: limits.keyId,
      amountPico: own.pico + addedPico,
      tokens: 0,
      atMs: held?.atMs ?? nowMs,
      expiresAtMs: nowMs + ask.ttlMs,
    });
    const record = rec ?? {
      keyId: limits.keyId,
      requests: 0,
      tokens: 0,
      limited: isLimited,
      used: new Set<string>(),
      reportedPico: 0n,
      reportedTokens: 0,
      awaiting: null,
    };
    record.requests += addedRequests;
    record.tokens += addedTokens;
    this.leases.set(ask.leaseId, record);
    w.leasedRequests += addedRequests;
    w.leasedTokens += addedTokens;
    return {
      leaseId: ask.leaseId,
      addedPico,
      addedRequests,
      addedTokens,
      rate: isLimited ? rateInfo(limits, w, nowMs) : NO_RATE,
      ttlMs: ask.ttlMs,
    };
  }

  /**
   * A reported use: the request gets its own reservation, taken from the lease's hold (or, when
   * the lease is already gone — a report that came after its expiry — held anyway: the request
   * runs). Returns the request's reservation, or null for a use already applied.
   */
  use(m: LeaseUse, nowMs: number): Reservation | null {
    const rec = this.leases.get(m.leaseId);
    if (rec?.used.has(m.requestId) || this.reservations.has(m.requestId)) return null;
    if (rec) {
      rec.used.add(m.requestId);
      rec.reportedPico += m.amountPico;
      rec.reportedTokens += m.tokens;
    }
    const held = this.reservations.get(LEASE_PREFIX + m.leaseId);
    if (held) {
      this.release(held);
      this.hold({ ...held, amountPico: clampBig(held.amountPico - m.amountPico) });
    }
    const w = this.keyWindow(m.keyId);
    if (rec) this.untake(rec, w, rec.requests > 0 ? 1 : 0, Math.min(rec.tokens, m.tokens));
    const r: Reservation = {
      requestId: m.requestId,
      keyId: m.keyId,
      amountPico: m.amountPico,
      tokens: m.tokens,
      atMs: nowMs,
      expiresAtMs: nowMs + m.ttlMs,
    };
    this.hold(r);
    if (rec?.limited) {
      w.rate.advance(nowMs);
      w.rate.push(m.requestId, nowMs, m.tokens);
    }
    if (rec?.awaiting != null && --rec.awaiting <= 0) this.returnLease(m.leaseId, null);
    const early = this.earlySettles.get(m.requestId);
    if (early) {
      this.earlySettles.delete(m.requestId);
      this.settle(m.requestId, early.chargePico, early.tokens);
    }
    return r;
  }

  /** A settle for a request not (yet) known is remembered for its use (see EARLY_SETTLE_MS). */
  override settle(requestId: string, chargePico: bigint, tokens: number, nowMs = 0): boolean {
    if (super.settle(requestId, chargePico, tokens)) return true;
    if (this.earlySettles.size >= MAX_EARLY_SETTLES) this.earlySettles.delete(this.earlySettles.keys().next().value!);
    this.earlySettles.set(requestId, { chargePico, tokens, atMs: nowMs });
    return false;
  }

  /** The lease's hold as it stands (after a use or a grant), for storage. */
  leaseHold(leaseId: string): Reservation | undefined {
    return this.reservations.get(LEASE_PREFIX + leaseId);
  }

  /**
   * The isolate gave the lease back: what it holds is free again, except what its uses still on
   * their way hold (`spent` less what arrived; null: nothing is on its way). Returns whether the
   * hold changed (for storage).
   */
  returnLease(leaseId: string, spent: LeaseSpend | null): boolean {
    const held = this.reservations.get(LEASE_PREFIX + leaseId);
    const rec = this.leases.get(leaseId);
    const missing = spent && rec ? spent.uses - rec.used.size : 0;
    if (rec && spent && missing > 0) {
      // Keep what the missing uses hold: their amounts, slots and tokens (the rest goes back now).
      const keepPico = spent.pico - rec.reportedPico;
      if (held) {
        this.release(held);
        this.hold({ ...held, amountPico: clampBig(keepPico < held.amountPico ? keepPico : held.amountPico) });
      }
      const w = this.keyWindow(rec.keyId);
      const keepRequests = Math.min(rec.requests, rec.limited ? missing : 0);
      const keepTokens = Math.min(rec.tokens, Math.max(0, spent.tokens - rec.reportedTokens));
      this.untake(rec, w, rec.requests - keepRequests, rec.tokens - keepTokens);
      rec.awaiting = missing;
      return true;
    }
    if (held) this.release(held);
    this.dropRecord(leaseId);
    return held !== undefined;
  }

  override expire(nowMs: number): Reservation[] {
    for (const [id, e] of this.earlySettles) if (e.atMs + EARLY_SETTLE_MS <= nowMs) this.earlySettles.delete(id);
    const gone = super.expire(nowMs);
    for (const r of gone) if (r.requestId.startsWith(LEASE_PREFIX)) this.dropRecord(r.requestId.slice(LEASE_PREFIX.length));
    return gone;
  }

  private dropRecord(leaseId: string): void {
    const rec = this.leases.get(leaseId);
    if (!rec) return;
    this.untake(rec, this.keyWindow(rec.keyId), rec.requests, rec.tokens);
    this.leases.delete(leaseId);
  }

  private untake(rec: LeaseRecord, w: KeyWindow, requests: number, tokens: number): void {
    rec.requests -= requests;
    rec.tokens -= tokens;
    w.leasedRequests -= requests;
    w.leasedTokens -= tokens;
  }

  /** What the account's leases hold, and those of one key. */
  private leasedTotals(keyId: string): { pico: bigint; keyPico: bigint } {
    let pico = 0n;
    let keyPico = 0n;
    // The leases granted since the object loaded (few: one per isolate and key); one restored from
    // storage after a restart holds its balance until it expires without being counted here.
    for (const id of this.leases.keys()) {
      const r = this.reservations.get(LEASE_PREFIX + id);
      if (!r) continue;
      pico += r.amountPico;
      if (r.keyId === keyId) keyPico += r.amountPico;
    }
    return { pico, keyPico };
  }
}
