/**
 * The account guard's reservation writes to its Durable Object storage, coalesced: what changed
 * since the last flush goes to storage in one turn (storage commits the calls of one turn together:
 * one commit, one fsync, for the whole batch) at most a flush interval after the first change, and
 * a reservation settled before its batch was written never reaches the disk at all (nor its delete).
 */
import type { Reservation } from "../../core/money/admission";

export const RESERVATION_PREFIX = "r:";
/** Storage's limit of keys per put(entries) / delete(keys) call. */
const MAX_KEYS_PER_CALL = 128;

/** The two storage calls a flush makes; fire-and-forget, as the guard's answers do not wait for the disk. */
export interface ReservationStore {
  put(entries: Record<string, Reservation>): void;
  delete(keys: string[]): void;
}

export class ReservationWrites {
  /** Changes not yet handed to storage: the reservation to write, or null to delete it. */
  private readonly pending = new Map<string, Reservation | null>();
  /** Requests whose reservation storage holds (or will, once the last flush commits). */
  private readonly stored = new Set<string>();
  private armed = false;

  /** `schedule`: runs the flush later (the guard: a timer of its flush interval). */
  constructor(
    private readonly store: ReservationStore,
    private readonly schedule: (flush: () => void) => void,
  ) {}

  /** A reservation storage already holds (restored at load). */
  known(requestId: string): void {
    this.stored.add(requestId);
  }

  made(r: Reservation): void {
    this.pending.set(r.requestId, r);
    this.arm();
  }

  /** Settled or expired: deleted from storage if it was written, else simply never written. */
  gone(requestId: string): void {
    if (!this.stored.has(requestId)) {
      this.pending.delete(requestId);
      return;
    }
    this.pending.set(requestId, null);
    this.arm();
  }

  /** Changes waiting for the next flush. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Hands every waiting change to storage now, in one turn. */
  flush(): void {
    this.armed = false;
    const puts: [string, Reservation][] = [];
    const deletes: string[] = [];
    for (const [id, r] of this.pending) {
      if (r) {
        puts.push([RESERVATION_PREFIX + id, r]);
        this.stored.add(id);
      } else {
        deletes.push(RESERVATION_PREFIX + id);
        this.stored.delete(id);
      }
    }
    this.pending.clear();
    for (let i = 0; i < deletes.length; i += MAX_KEYS_PER_CALL) this.store.delete(deletes.slice(i, i + MAX_KEYS_PER_CALL));
    for (let i = 0; i < puts.length; i += MAX_KEYS_PER_CALL) this.store.put(Object.fromEntries(puts.slice(i, i + MAX_KEYS_PER_CALL)));
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.schedule(() => {
      if (this.armed) this.flush();
    });
  }
}
