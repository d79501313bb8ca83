/**
 * Settlements of finished requests (and the uses and returns of leases, in the same order),
 * per isolate and per account (plain data). They ride on the
 * account's next admission call, or go in one call per account after a short window: under load
 * a request costs the account's Durable Object one call, not two.
 *
 * What can go wrong, and what happens then:
 * - a call that fails or throws (the object reset, unavailable): its settlements are queued again,
 *   first, and tried after another window in the same waitUntil (or ride on the next admission);
 *   settling is idempotent on request id, so a call that landed but answered an error does no harm;
 *   after MAX_ATTEMPTS they are dropped with a log line (the guard's alarm releases them);
 * - a flush that never runs (its waitUntil not registered, or the request that carried it ended):
 *   a push after STALE_AFTER_WINDOWS windows schedules a new one instead of waiting on it forever;
 * - a burst: at MAX_QUEUED settlements the queue is flushed at once, so it never grows unbounded;
 * - an isolate evicted with settlements queued: they are lost, and the guard's alarm releases
 *   their reservations; the charges are in the books regardless.
 * Not covered here: a settlement being flushed when the same account's next admission is taken
 * may reach the object after that admission (the admission then sees the reservation a little longer).
 */
import type { GuardMessage } from "../core/money/lease-book";

type Send = (accountId: string, settles: GuardMessage[]) => Promise<void>;
type Background = (p: Promise<unknown>) => void;

export const MAX_ATTEMPTS = 3;
export const MAX_QUEUED = 1_000;
/** A flush not begun this many windows after it was scheduled is taken for lost. */
export const STALE_AFTER_WINDOWS = 40;

export interface SettleQueueOptions {
  windowMs?: number;
  log?: (msg: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  maxQueued?: number;
}

interface Queued {
  s: GuardMessage;
  tries: number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SettleQueue {
  private readonly queued = new Map<string, Queued[]>();
  private size = 0;
  /** When the pending flush was scheduled; null when none is. */
  private scheduledAt: number | null = null;
  private readonly windowMs: number;
  private readonly log: (msg: string) => void;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxQueued: number;

  constructor(opts: SettleQueueOptions = {}) {
    this.windowMs = opts.windowMs ?? 25;
    this.log = opts.log ?? console.error;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.maxQueued = opts.maxQueued ?? MAX_QUEUED;
  }

  /** Queues a settlement; the first of a window schedules the flush in the caller's waitUntil. */
  push(accountId: string, s: GuardMessage, background: Background, send: Send): void {
    this.enqueue(accountId, [{ s, tries: 0 }], false);
    if (this.size >= this.maxQueued) this.schedule(background, send, 0);
    else if (this.scheduledAt === null || this.now() - this.scheduledAt > STALE_AFTER_WINDOWS * this.windowMs) {
      this.schedule(background, send, this.windowMs);
    }
  }

  /** The account's queued settlements, handed to its next admission call. */
  take(accountId: string): GuardMessage[] {
    const list = this.queued.get(accountId) ?? [];
    this.queued.delete(accountId);
    this.size -= list.length;
    return list.map((q) => q.s);
  }

  /** Settlements an admission call took but did not deliver (it failed): they go first next time. */
  putBack(accountId: string, settles: GuardMessage[]): void {
    this.enqueue(
      accountId,
      settles.map((s) => ({ s, tries: 0 })),
      true,
    );
  }

  /** How many settlements wait (for tests and logs). */
  get pending(): number {
    return this.size;
  }

  private enqueue(accountId: string, items: Queued[], first: boolean): void {
    if (items.length === 0) return;
    const list = this.queued.get(accountId) ?? [];
    this.queued.set(accountId, first ? [...items, ...list] : [...list, ...items]);
    this.size += items.length;
  }

  private schedule(background: Background, send: Send, delayMs: number): void {
    this.scheduledAt = this.now();
    try {
      background(this.flushAfter(delayMs, send));
    } catch (err) {
      // No waitUntil to run it in: the next push schedules again.
      this.scheduledAt = null;
      this.log(`settle flush not scheduled: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async flushAfter(delayMs: number, send: Send): Promise<void> {
    if (delayMs > 0) await this.sleep(delayMs);
    this.scheduledAt = null;
    const all = [...this.queued];
    this.queued.clear();
    this.size = 0;
    if (all.length === 0) return;
    const failed = await Promise.all(
      all.map(async ([accountId, items]) => {
        try {
          await send(
            accountId,
            items.map((q) => q.s),
          );
          return false;
        } catch (err) {
          const kept = items.filter((q) => ++q.tries < MAX_ATTEMPTS);
          this.enqueue(accountId, kept, true);
          this.log(
            `settle ${items.length} for ${accountId} failed (${items.length - kept.length} dropped): ${err instanceof Error ? err.message : String(err)}`,
          );
          return kept.length > 0;
        }
      }),
    );
    // Tried again after a window, within this same waitUntil, unless a flush is already due.
    if (failed.some(Boolean) && this.scheduledAt === null) {
      this.scheduledAt = this.now();
      await this.flushAfter(this.windowMs, send);
    }
  }
}
