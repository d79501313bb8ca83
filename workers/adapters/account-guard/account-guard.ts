/**
 * One Durable Object per customer account: the single place where its balance reservations,
 * key budgets and key rate limits are decided, so concurrent requests on any isolate see one
 * figure. The balance comes from the ledger in Postgres when the object loads; reservations are
 * kept in the object's storage, so they survive an eviction, and an alarm releases the ones whose
 * request never reported back (its isolate died).
 *
 * Storage writes are coalesced (`reservation-writes.ts`): the reservations made and settled within
 * FLUSH_MS are written as one commit at the end of that interval, and one settled within it is
 * never written. What a restart finds: every reservation made more than FLUSH_MS before it and not
 * yet settled or expired (an eviction comes only after the object has been idle far longer, so it
 * finds them all); a crash loses at most the reservations of its last FLUSH_MS (as before, the
 * answer never waited for the disk; those requests are still metered through their usage events).
 */
import { DurableObject } from "cloudflare:workers";
import type { Db } from "../../../db/client";
import { openNeonDb } from "../../../db/neon";
import type { Env } from "../../config";
import type { Decision, GuardAdmit, KeyLimits, Reservation } from "../../core/money/admission";
import {
  type GuardMessage,
  LEASE_PREFIX,
  type LeaseAsk,
  type LeaseGrant,
  LeasedAdmission,
  type LeaseUse,
} from "../../core/money/lease-book";
import type { Clock } from "../../ports";
import { bookedBalance, keySpendThisMonth, persistReservations, type NewReservation } from "../postgres/guard";
import { RESERVATION_PREFIX, ReservationWrites } from "./reservation-writes";

/** Reservations reach Postgres in batches, at most this long after they were made. */
const PERSIST_AFTER_MS = 1_000;

/** Reservation writes to this object's storage are gathered this long, then committed as one. */
const FLUSH_MS = 10;

export class AccountGuard extends DurableObject<Env> {
  /** The guard's clock: injected, so a test (a subclass) can move time. */
  protected now: Clock = Date.now;
  private admission: LeasedAdmission | null = null;
  /** Calls of each kind since the object loaded (tests prove with them that leases spare the round trip). */
  private readonly calls = { admit: 0, lease: 0, messages: 0 };
  private alarmAtMs: number | null = null;
  /** The newest ledger entry of this account the loaded balance includes. */
  private loadedThroughEntryId = 0;
  private unwritten: NewReservation[] = [];
  private settledUnwritten: string[] = [];
  private persistScheduled = false;
  private readonly writes = new ReservationWrites(
    {
      put: (entries) => void this.ctx.storage.put(entries, { allowUnconfirmed: true }),
      delete: (keys) => void this.ctx.storage.delete(keys, { allowUnconfirmed: true }),
    },
    (flush) => setTimeout(flush, FLUSH_MS),
  );
  /** The budget period (UTC month) the loaded key spends belong to. */
  private month = "";

  /** Admits one request, after applying what an isolate had queued (settles, lease uses and returns: one call instead of two). */
  async admit(accountId: string, req: GuardAdmit, messages: GuardMessage[] = []): Promise<Decision> {
    this.calls.admit++;
    const state = await this.load(accountId);
    this.apply(accountId, state, messages);
    await this.prepareKey(state, req.limits);
    // From here to the reservation nothing awaits: the decision and the reservation are one step.
    const retried = state.reservation(req.requestId) !== undefined;
    const decision = state.admit({ ...req, nowMs: this.now() });
    if (decision.ok) {
      const r = state.reservation(req.requestId);
      if (r && !retried) this.remember(accountId, r, req.endpoint);
    }
    return decision;
  }

  /**
   * A request's reservation, to storage and to Postgres. Coalesced and unconfirmed: the answer does
   * not wait for the disk, and the disk sees one commit per flush interval, not one per request. A
   * crash before the write lands loses a reservation (the request is still metered through its usage event).
   */
  private remember(accountId: string, r: Reservation, endpoint: GuardAdmit["endpoint"]): void {
    this.writes.made(r);
    this.scheduleAlarm(r.expiresAtMs);
    this.unwritten.push({
      requestId: r.requestId,
      accountId,
      keyId: r.keyId,
      endpoint,
      amountPico: r.amountPico,
      createdAt: new Date(r.atMs),
      expiresAt: new Date(r.expiresAtMs),
    });
    this.schedulePersist();
  }

  /** Grants or tops up an isolate's lease (lease-book.ts), after applying what it had queued; null when none is worth granting. */
  async lease(accountId: string, ask: LeaseAsk, messages: GuardMessage[] = []): Promise<LeaseGrant | null> {
    this.calls.lease++;
    const state = await this.load(accountId);
    this.apply(accountId, state, messages);
    await this.prepareKey(state, ask.limits);
    const grant = state.lease(ask, this.now());
    const hold = state.leaseHold(ask.leaseId);
    if (grant && hold) {
      this.writes.made(hold);
      this.scheduleAlarm(hold.expiresAtMs);
    }
    return grant;
  }

  async settle(accountId: string, requestId: string, chargePico: bigint, tokens: number): Promise<boolean> {
    return this.settleLoaded(await this.load(accountId), { requestId, chargePico, tokens });
  }

  async settleMany(accountId: string, messages: GuardMessage[]): Promise<void> {
    this.calls.messages++;
    this.apply(accountId, await this.load(accountId), messages);
  }

  /** An isolate's queued messages, in the order it queued them (a use before its request's settle). */
  private apply(accountId: string, state: LeasedAdmission, messages: GuardMessage[]): void {
    for (const m of messages) {
      if (m.kind === "use") this.useLoaded(accountId, state, m);
      else if (m.kind === "return") {
        if (state.returnLease(m.leaseId, m.spent)) {
          const hold = state.leaseHold(m.leaseId);
          if (hold) this.writes.made(hold);
          else this.writes.gone(LEASE_PREFIX + m.leaseId);
        }
      } else this.settleLoaded(state, m);
    }
  }

  /** A request an isolate admitted on its lease: its own reservation, kept and persisted as a direct admission's. */
  private useLoaded(accountId: string, state: LeasedAdmission, m: LeaseUse): void {
    const r = state.use(m, this.now());
    if (!r) return;
    const hold = state.leaseHold(m.leaseId);
    if (hold) this.writes.made(hold);
    else this.writes.gone(LEASE_PREFIX + m.leaseId);
    this.remember(accountId, r, m.endpoint);
    if (!state.reservation(r.requestId)) {
      // Its settle came first (in another call) and was applied now: gone already.
      this.writes.gone(r.requestId);
      this.settledUnwritten.push(r.requestId);
    }
  }

  /** A new budget period forgets key spends; a key with a budget has its spend loaded once. */
  private async prepareKey(state: LeasedAdmission, limits: KeyLimits): Promise<void> {
    const month = new Date(this.now()).toISOString().slice(0, 7);
    if (month !== this.month) {
      state.forgetKeySpend();
      this.month = month;
    }
    if (limits.budgetPico !== null && !state.knowsKey(limits.keyId)) {
      state.loadKey(limits.keyId, await this.query((db) => keySpendThisMonth(db, limits.keyId, this.now())));
    }
  }

  private settleLoaded(state: LeasedAdmission, s: { requestId: string; chargePico: bigint; tokens: number }): boolean {
    const settled = state.settle(s.requestId, s.chargePico, s.tokens, this.now());
    if (settled) {
      this.writes.gone(s.requestId);
      this.settledUnwritten.push(s.requestId);
      this.schedulePersist();
    }
    return settled;
  }

  /** A credit just booked as ledger entry `entryId`: added unless the last load already counted it. */
  async credit(accountId: string, amountPico: bigint, entryId: number): Promise<void> {
    if (!this.admission) {
      await this.load(accountId);
      return;
    } // the load reads it from the books
    if (entryId > this.loadedThroughEntryId) this.admission.credit(amountPico);
  }

  /** Available, balance and reserved, for admin views and tests. */
  async snapshot(accountId: string): Promise<{
    balancePico: bigint;
    /** Held for requests (leases apart). */
    reservedPico: bigint;
    /** Held by isolates' leases. */
    leasedPico: bigint;
    availablePico: bigint;
    leases: number;
    calls: { admit: number; lease: number; messages: number };
  }> {
    const s = await this.load(accountId);
    const leasedPico = s.leasedPico;
    return {
      balancePico: s.balance,
      reservedPico: s.reservedPico - leasedPico,
      leasedPico,
      availablePico: s.available,
      leases: s.leaseCount,
      calls: { ...this.calls },
    };
  }

  override async alarm(): Promise<void> {
    const accountId = await this.ctx.storage.get<string>("account");
    if (!accountId) return;
    const state = await this.load(accountId);
    const gone = state.expire(this.now());
    for (const r of gone) this.writes.gone(r.requestId);
    if (gone.length) this.writes.flush();
    this.alarmAtMs = null;
    const next = state.nextExpiryMs();
    if (next !== null) this.scheduleAlarm(next);
  }

  private async load(accountId: string): Promise<LeasedAdmission> {
    if (this.admission) return this.admission;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.admission) return;
      const { balance, lastEntryId } = await this.query((db) => bookedBalance(db, accountId));
      this.loadedThroughEntryId = lastEntryId;
      const state = new LeasedAdmission(balance);
      const kept = await this.ctx.storage.list<Reservation>({ prefix: RESERVATION_PREFIX });
      for (const r of kept.values()) {
        state.restore(r);
        this.writes.known(r.requestId);
      }
      this.alarmAtMs = await this.ctx.storage.getAlarm();
      await this.ctx.storage.put("account", accountId);
      this.admission = state;
    });
    return this.admission!;
  }

  /** Writes reservations (and their settlement) to Postgres in one batch per interval. */
  private schedulePersist(): void {
    if (this.persistScheduled) return;
    this.persistScheduled = true;
    setTimeout(() => {
      this.persistScheduled = false;
      void this.persist();
    }, PERSIST_AFTER_MS);
  }

  private async persist(): Promise<void> {
    const rows = this.unwritten.splice(0);
    const settled = this.settledUnwritten.splice(0);
    if (rows.length + settled.length === 0) return;
    try {
      await this.query((db) => persistReservations(db, rows, settled, new Date(this.now())));
    } catch (err) {
      // Kept for the next batch; the reservations themselves are safe in this object's storage.
      this.unwritten.unshift(...rows);
      this.settledUnwritten.unshift(...settled);
      console.error(
        `reservations not persisted (${rows.length} + ${settled.length} settled): ${err instanceof Error ? err.message : String(err)}`,
      );
      this.schedulePersist();
    }
  }

  /** The alarm fires at the earliest expiry; known in memory, so admission does not read storage for it. */
  private scheduleAlarm(atMs: number): void {
    if (this.alarmAtMs !== null && this.alarmAtMs <= atMs) return;
    this.alarmAtMs = atMs;
    void this.ctx.storage.setAlarm(atMs, { allowUnconfirmed: true });
  }

  private async query<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const { db, close } = openNeonDb(this.env.DATABASE_URL, this.env.WSPROXY);
    try {
      return await fn(db);
    } finally {
      await close().catch(() => undefined);
    }
  }
}
