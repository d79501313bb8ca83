/**
 * Settlements of finished requests, per isolate and per account (plain data). They ride on the
 * account's next admission call, or go in one call per account after a short window: under load
 * a request costs the account's Durable Object one call, not two.
 */
import type { GuardSettle } from "../core/money/admission";

type Send = (accountId: string, settles: GuardSettle[]) => Promise<void>;

export class SettleQueue {
  private readonly queued = new Map<string, GuardSettle[]>();
  private scheduled = false;

  constructor(
    private readonly windowMs = 25,
    private readonly log: (msg: string) => void = console.error,
  ) {}

  /** Queues a settlement; the first of a window schedules the flush in the caller's waitUntil. */
  push(accountId: string, s: GuardSettle, background: (p: Promise<unknown>) => void, send: Send): void {
    const list = this.queued.get(accountId);
    if (list) list.push(s);
    else this.queued.set(accountId, [s]);
    if (!this.scheduled) {
      this.scheduled = true;
      background(this.flushAfterWindow(send));
    }
  }

  /** The account's queued settlements, handed to its next admission call. */
  take(accountId: string): GuardSettle[] {
    const list = this.queued.get(accountId) ?? [];
    this.queued.delete(accountId);
    return list;
  }

  private async flushAfterWindow(send: Send): Promise<void> {
    await new Promise((r) => setTimeout(r, this.windowMs));
    this.scheduled = false;
    const all = [...this.queued];
    this.queued.clear();
    for (const [accountId, settles] of all) {
      // Lost settlements are released by the guard's alarm; the charges are in the books regardless.
      await send(accountId, settles).catch((err: unknown) =>
        this.log(`settle ${settles.length} for ${accountId} failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }
}
