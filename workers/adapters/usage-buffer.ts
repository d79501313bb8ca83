/**
 * Usage events and latency observations wait here (per isolate, plain data) and are written
 * in batches off the critical path: one multi-row insert and one upsert per latency key per
 * flush, through the waitUntil of the request that scheduled the flush. Once the isolate drains (an
 * orderly stop, see ./lifecycle.ts) there is no window: every record is written as it arrives.
 */
import type { ReceiptRecord } from "../core/metering/records";
import type { UsageRecord } from "../core/metering/usage";
import type { DrainableUsage } from "./lifecycle";
import { aggregateObservations, type LatencyBatch, type LatencyObservation } from "../core/routing/latency";

export type { LatencyObservation };

/** One flush: written together, in one database session. */
export interface UsageBatch {
  records: UsageRecord[];
  receipts: ReceiptRecord[];
  receiptStatuses: [string, UsageRecord["receiptStatus"]][];
  latency: LatencyBatch[];
}

/** Writes a batch durably, idempotent on request id (a retried flush adds nothing), or throws. */
export type WriteUsageBatch = (batch: UsageBatch) => Promise<void>;

const MAX_ATTEMPTS_PER_RECORD = 5;

export interface FlushPolicy {
  /** How long the first record of a batch waits for company: one database session per window. */
  windowMs: number;
  /** A batch this large is written at once. */
  maxBatch: number;
}

/** One session a second at most under load; a burst of 256 goes at once. */
export const DEFAULT_FLUSH_POLICY: FlushPolicy = { windowMs: 1_000, maxBatch: 256 };

export class UsageBuffer {
  private records = new Map<string, { rec: UsageRecord; tries: number }>();
  private observations: LatencyObservation[] = [];
  private receipts: ReceiptRecord[] = [];
  private statusUpdates = new Map<string, UsageRecord["receiptStatus"]>();
  private inFlight = new Map<string, UsageRecord>();
  private timer: { cancel(): void } | null = null;
  private draining = false;
  private writing = 0;

  constructor(
    private readonly policy: FlushPolicy = DEFAULT_FLUSH_POLICY,
    private readonly log: (msg: string) => void = console.error,
  ) {}

  push(
    rec: UsageRecord | null,
    obs: LatencyObservation[],
    receipt: ReceiptRecord | null,
    background: (p: Promise<unknown>) => void,
    write: WriteUsageBatch,
  ): void {
    if (rec) this.records.set(rec.requestId, { rec, tries: 0 });
    if (receipt) this.receipts.push(receipt);
    this.observations.push(...obs);
    if (this.draining || this.records.size >= this.policy.maxBatch) {
      this.timer?.cancel();
      this.timer = null;
      background(this.flush(write));
    } else if (!this.timer) {
      background(this.flushAfterWindow(write));
    }
  }

  /** Updates a buffered record in place, or queues the update for one already written. */
  setReceiptStatus(
    requestId: string,
    status: UsageRecord["receiptStatus"],
    background: (p: Promise<unknown>) => void,
    write: WriteUsageBatch,
  ): void {
    const pending = this.records.get(requestId);
    if (pending) {
      pending.rec.receiptStatus = status;
      return;
    }
    this.statusUpdates.set(requestId, status);
    this.push(null, [], null, background, write);
  }

  /** A record not yet in Postgres, so /v1/generation answers as soon as the response ended. */
  find(requestId: string): UsageRecord | undefined {
    return this.inFlight.get(requestId) ?? this.records.get(requestId)?.rec;
  }

  /** No more windows: what waits is written by the next flushNow, what arrives from now on at once. */
  startDraining(): void {
    this.draining = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Writes whatever waits, in the caller's own context (a drain writes through its own session). */
  flushNow(write: WriteUsageBatch): Promise<void> {
    return this.flush(write);
  }

  /** Records (and receipts, verdicts) not yet durably written, including those being written now. */
  unwritten(): number {
    return this.records.size + this.inFlight.size + this.receipts.length + this.statusUpdates.size;
  }

  /** Nothing waits and no write is under way. */
  get idle(): boolean {
    return this.writing === 0 && this.unwritten() === 0;
  }

  /** This buffer as a drain sees it, writing through `write` (the drain's own session). */
  drainable(write: WriteUsageBatch): DrainableUsage {
    return {
      startDraining: () => this.startDraining(),
      flushNow: () => this.flushNow(write),
      idle: () => this.idle,
      unwritten: () => this.unwritten(),
    };
  }

  /** Waits out the window (or an early flush that cancels it), then writes whatever is there. */
  private async flushAfterWindow(write: WriteUsageBatch): Promise<void> {
    let cancelled = false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.policy.windowMs);
      this.timer = {
        cancel: () => {
          cancelled = true;
          clearTimeout(t);
          resolve();
        },
      };
    });
    if (cancelled) return;
    this.timer = null;
    await this.flush(write);
  }

  private async flush(write: WriteUsageBatch): Promise<void> {
    const batch = [...this.records.values()];
    this.records.clear();
    const obs = this.observations.splice(0);
    const receipts = this.receipts.splice(0);
    const updates = [...this.statusUpdates];
    this.statusUpdates.clear();
    if (batch.length + obs.length + receipts.length + updates.length === 0) return;
    for (const { rec } of batch) this.inFlight.set(rec.requestId, rec);
    this.writing++;
    try {
      await write({ records: batch.map((b) => b.rec), receipts, receiptStatuses: updates, latency: aggregateObservations(obs) });
    } catch (err) {
      this.writing--;
      // Keep everything for the next flush; request ids make the retry idempotent.
      // While draining, nothing is given up before the drain's deadline (after it, the isolate is gone).
      const kept = batch.filter((b) => this.draining || ++b.tries < MAX_ATTEMPTS_PER_RECORD);
      for (const b of kept) if (!this.records.has(b.rec.requestId)) this.records.set(b.rec.requestId, b);
      this.receipts.unshift(...receipts);
      this.observations.unshift(...obs);
      for (const [id, st] of updates) if (!this.statusUpdates.has(id)) this.statusUpdates.set(id, st);
      this.log(
        `usage flush failed (${batch.length} records, ${batch.length - kept.length} dropped): ${err instanceof Error ? err.message : String(err)}`,
      );
      for (const { rec } of batch) this.inFlight.delete(rec.requestId);
      // Try again after a window, within this same waitUntil, unless a flush is already due (a
      // draining isolate retries from its drain loop instead).
      if (!this.timer && !this.draining && kept.length > 0) await this.flushAfterWindow(write);
      return;
    }
    this.writing--;
    for (const { rec } of batch) this.inFlight.delete(rec.requestId);
  }
}
