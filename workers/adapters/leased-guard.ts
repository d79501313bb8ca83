/**
 * The Guard port over the account's Durable Object, with leases (per isolate, plain data): a key
 * with steady traffic gets a lease (core/money/lease-book.ts, local-lease.ts), asked and renewed
 * in the background, and its requests are admitted from it with no call at all; each use goes to
 * the object in the settle queue's next window (with the settles, in order). A request the lease
 * does not cover (or the first ones of a key) is a direct call, which hands the lease back in the
 * same call, so this isolate's own lease never makes it refuse a request. A refusal that raced a
 * lease grant tries again once: from the lease that arrived, or directly with it handed back.
 *
 * Leases go back when idle (IDLE_RETURN_MS, noticed on the isolate's next request), at a drain,
 * or — the isolate idle or gone — by expiring in the object (LEASE_TTL_MS). Asking is held back after a refusal (the key or the account is near a limit: exact
 * direct calls serve it better) and after the object declined a lease.
 */
import type { Decision, GuardAdmit, GuardSettle } from "../core/money/admission";
import type { GuardMessage, LeaseAsk, LeaseGrant, LeaseReturn } from "../core/money/lease-book";
import { DemandMeter, IDLE_RETURN_MS, LEASE_TTL_MS, LocalLease } from "../core/money/local-lease";
import type { SettleQueue } from "./settle-queue";

/** What the isolate calls on the account's object. */
export interface GuardObject {
  admit(accountId: string, req: GuardAdmit, messages: GuardMessage[]): Promise<Decision>;
  lease(accountId: string, ask: LeaseAsk, messages: GuardMessage[]): Promise<LeaseGrant | null>;
  settleMany(accountId: string, messages: GuardMessage[]): Promise<void>;
}

type Background = (p: Promise<unknown>) => void;

/** No lease is asked for this long after a refusal for the key, or after the object declined one. */
export const REFUSAL_BACKOFF_MS = 5_000;
export const DECLINED_BACKOFF_MS = 1_000;

export interface LeasedGuardOptions {
  now?: () => number;
  newId?: () => string;
  /** Leases off: every admission is a direct call (as before leases). */
  leases?: boolean;
}

const keyOf = (accountId: string, keyId: string) => `${accountId}\u0000${keyId}`;
const accountOf = (key: string) => key.slice(0, key.indexOf("\u0000"));
const NOTHING_SPENT = { uses: 0, pico: 0n, requests: 0, tokens: 0 };
const returnOf = (lease: LocalLease): LeaseReturn => ({ kind: "return", leaseId: lease.leaseId, spent: { ...lease.spent } });

export class LeasedGuard {
  private readonly leases = new Map<string, LocalLease>();
  private readonly demand = new Map<string, DemandMeter>();
  private readonly asking = new Set<string>();
  private sweptAtMs = 0;
  private readonly holdBackUntil = new Map<string, number>();
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly enabled: boolean;

  constructor(
    private readonly object: (accountId: string) => GuardObject,
    private readonly queue: SettleQueue,
    opts: LeasedGuardOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? (() => crypto.randomUUID());
    this.enabled = opts.leases ?? true;
  }

  /** Leases this isolate holds (tests, logs). */
  get held(): number {
    return this.leases.size;
  }

  async admit(accountId: string, req: GuardAdmit, background: Background): Promise<Decision> {
    const key = keyOf(accountId, req.limits.keyId);
    const need = { reservePico: req.reservePico, reserveTokens: req.reserveTokens };
    const nowMs = this.now();
    this.sweepIdle(nowMs, background);
    this.meter(key).note(nowMs, need);
    const local = this.fromLease(accountId, key, req, background);
    if (local) return local;
    let decision = await this.direct(accountId, key, req);
    if (!decision.ok) {
      this.holdBackUntil.set(key, this.now() + REFUSAL_BACKOFF_MS);
      // A lease granted while this call was out took what it was refused for: spend it, or hand it back and ask again.
      if (this.leases.has(key)) decision = this.fromLease(accountId, key, req, background) ?? (await this.direct(accountId, key, req));
      return decision;
    }
    if (this.enabled && !this.leases.has(key)) this.maybeAsk(accountId, key, req, false, background);
    return decision;
  }

  settle(accountId: string, s: GuardSettle, background: Background): void {
    this.queue.push(accountId, s, background, this.send);
  }

  /** Hands every lease back (a drain): the returns go with the settles in the queue's next flush. */
  returnAll(background: Background): void {
    for (const [key, lease] of this.leases) {
      this.leases.delete(key);
      this.queue.push(accountOf(key), returnOf(lease), background, this.send);
    }
  }

  private readonly send = (accountId: string, messages: GuardMessage[]) => this.object(accountId).settleMany(accountId, messages);

  private fromLease(accountId: string, key: string, req: GuardAdmit, background: Background): Decision | null {
    const lease = this.leases.get(key);
    if (!lease) return null;
    const nowMs = this.now();
    const rate = lease.take({ reservePico: req.reservePico, reserveTokens: req.reserveTokens }, req.limits, nowMs);
    if (!rate) return null;
    this.queue.push(
      accountId,
      {
        kind: "use",
        leaseId: lease.leaseId,
        requestId: req.requestId,
        keyId: req.limits.keyId,
        endpoint: req.endpoint,
        amountPico: req.reservePico,
        tokens: req.reserveTokens,
        atMs: nowMs,
        ttlMs: req.ttlMs,
      },
      background,
      this.send,
    );
    if (lease.wantsRenewal(nowMs)) this.maybeAsk(accountId, key, req, true, background);
    return { ok: true, rate };
  }

  /** A direct admission; the key's lease (if any) is handed back in the same call, before it. */
  private async direct(accountId: string, key: string, req: GuardAdmit): Promise<Decision> {
    const messages = this.queue.take(accountId);
    const lease = this.leases.get(key);
    if (lease) {
      this.leases.delete(key);
      messages.push(returnOf(lease));
    }
    try {
      return await this.object(accountId).admit(accountId, req, messages);
    } catch (err) {
      this.queue.putBack(accountId, messages); // not delivered: they ride on the next call
      throw err;
    }
  }

  /** Asks for a lease (or a top-up) in the background, when demand is steady and nothing holds asking back. */
  private maybeAsk(accountId: string, key: string, req: GuardAdmit, topUp: boolean, background: Background): void {
    const nowMs = this.now();
    if (this.asking.has(key) || nowMs < (this.holdBackUntil.get(key) ?? 0)) return;
    const want = this.meter(key).want(nowMs);
    if (!want) return;
    const current = this.leases.get(key);
    if (topUp && !current) return;
    const leaseId = topUp && current ? current.leaseId : this.newId();
    const ask: LeaseAsk = { leaseId, topUp, limits: req.limits, ...want, ttlMs: LEASE_TTL_MS };
    this.asking.add(key);
    background(this.ask(accountId, key, ask).finally(() => this.asking.delete(key)));
  }

  private async ask(accountId: string, key: string, ask: LeaseAsk): Promise<void> {
    const askedAtMs = this.now();
    const messages = this.queue.take(accountId);
    let grant: LeaseGrant | null;
    try {
      grant = await this.object(accountId).lease(accountId, ask, messages);
    } catch {
      this.queue.putBack(accountId, messages);
      this.holdBackUntil.set(key, this.now() + DECLINED_BACKOFF_MS);
      return;
    }
    if (!grant) {
      this.holdBackUntil.set(key, this.now() + DECLINED_BACKOFF_MS);
      return;
    }
    const current = this.leases.get(key);
    if (ask.topUp) {
      // Handed back while the top-up was out: the return (queued after it) frees what it added.
      if (current?.leaseId === ask.leaseId) current.topUp(grant, askedAtMs);
      return;
    }
    if (current) {
      // Another lease got here first (one ask at a time makes this rare): this one goes back.
      await this.send(accountId, [{ kind: "return", leaseId: grant.leaseId, spent: NOTHING_SPENT }]).catch(() => undefined);
      return;
    }
    this.leases.set(key, new LocalLease(grant.leaseId, ask.limits, grant, askedAtMs));
  }

  /**
   * Leases unused for IDLE_RETURN_MS go back with the next flush of the settle queue (looked for at
   * most once per IDLE_RETURN_MS, on a request of any account: no timer keeps a request's context
   * open). An isolate with no more requests leaves its leases to expire in the objects (LEASE_TTL_MS).
   */
  private sweepIdle(nowMs: number, background: Background): void {
    if (nowMs - this.sweptAtMs < IDLE_RETURN_MS) return;
    this.sweptAtMs = nowMs;
    for (const [key, lease] of this.leases) {
      if (!lease.idle(nowMs) && lease.valid(nowMs)) continue;
      this.leases.delete(key);
      this.queue.push(accountOf(key), returnOf(lease), background, this.send);
    }
  }

  private meter(key: string): DemandMeter {
    let m = this.demand.get(key);
    if (!m) {
      m = new DemandMeter();
      this.demand.set(key, m);
    }
    return m;
  }
}
