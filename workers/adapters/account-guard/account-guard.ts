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
import { AccountAdmission, type Decision, type GuardAdmit, type GuardSettle, type Reservation } from "../../core/money/admission";
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
  private admission: AccountAdmission | null = null;
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

  /** Admits one request, after applying the settlements an isolate had queued (one call instead of two). */
  async admit(accountId: string, req: GuardAdmit, settles: GuardSettle[] = []): Promise<Decision> {
    const state = await this.load(accountId);
    for (const s of settles) this.settleLoaded(state, s);
    const month = new Date(this.now()).toISOString().slice(0, 7);
    if (month !== this.month) {
      state.forgetKeySpend();
      this.month = month;
    }
    if (req.limits.budgetPico !== null && !state.knowsKey(req.limits.keyId)) {
      state.loadKey(req.limits.keyId, await this.query((db) => keySpendThisMonth(db, req.limits.keyId, this.now())));
    }
    // From here to the reservation nothing awaits: the decision and the reservation are one step.
    const retried = state.reservation(req.requestId) !== undefined;
    const decision = state.admit({ ...req, nowMs: this.now() });
    if (decision.ok) {
      const r = state.reservation(req.requestId);
      if (r && !retried) {
        // Coalesced and unconfirmed: the answer does not wait for the disk, and the disk sees one
        // commit per flush interval, not one per request. A crash before the write lands loses a
        // reservation (the request is still metered through its usage event).
        this.writes.made(r);
        this.scheduleAlarm(r.expiresAtMs);
        this.unwritten.push({
          requestId: r.requestId,
          accountId,
          keyId: r.keyId,
          endpoint: req.endpoint,
          amountPico: r.amountPico,
          createdAt: new Date(r.atMs),
          expiresAt: new Date(r.expiresAtMs),
        });
        this.schedulePersist();
      }
    }
    return decision;
  }

  async settle(accountId: string, requestId: string, chargePico: bigint, tokens: number): Promise<boolean> {
    return this.settleLoaded(await this.load(accountId), { requestId, chargePico, tokens });
  }

  async settleMany(accountId: string, settles: GuardSettle[]): Promise<void> {
    const state = await this.load(accountId);
    for (const s of settles) this.settleLoaded(state, s);
  }

  private settleLoaded(state: AccountAdmission, s: GuardSettle): boolean {
    const settled = state.settle(s.requestId, s.chargePico, s.tokens);
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
  async snapshot(accountId: string): Promise<{ balancePico: bigint; reservedPico: bigint; availablePico: bigint }> {
    const s = await this.load(accountId);
    return { balancePico: s.balance, reservedPico: s.reservedPico, availablePico: s.available };
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

  private async load(accountId: string): Promise<AccountAdmission> {
    if (this.admission) return this.admission;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.admission) return;
      const { balance, lastEntryId } = await this.query((db) => bookedBalance(db, accountId));
      this.loadedThroughEntryId = lastEntryId;
      const state = new AccountAdmission(balance);
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
