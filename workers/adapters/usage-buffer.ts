/**
 * Usage events and latency observations wait here (per isolate, plain data) and are written
 * in batches off the critical path: one multi-row insert and one upsert per latency key per
 * flush, through the waitUntil of the request that scheduled the flush.
 */
import type { Db } from "../../db/client";
import type { UsageRecord } from "../core/metering/usage";
import { aggregateObservations, type LatencyObservation } from "../core/routing/latency";
import { insertUsage, upsertLatency } from "./postgres/usage";

export type { LatencyObservation };

type WithDb = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;

const MAX_ATTEMPTS_PER_RECORD = 5;

export class UsageBuffer {
  private records: { rec: UsageRecord; tries: number }[] = [];
  private observations: LatencyObservation[] = [];
  private inFlight = new Map<string, UsageRecord>();
  private scheduled = false;

  constructor(private readonly delayMs = 20, private readonly log: (msg: string) => void = console.error) {}

  push(rec: UsageRecord | null, obs: LatencyObservation[], background: (p: Promise<unknown>) => void, withDb: WithDb): void {
    if (rec) this.records.push({ rec, tries: 0 });
    this.observations.push(...obs);
    if (this.scheduled) return;
    this.scheduled = true;
    background(this.flushAfterDelay(withDb));
  }

  /** A record not yet in Postgres, so /v1/generation answers as soon as the response ended. */
  find(requestId: string): UsageRecord | undefined {
    return this.inFlight.get(requestId) ?? this.records.find((r) => r.rec.requestId === requestId)?.rec;
  }

  private async flushAfterDelay(withDb: WithDb): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.scheduled = false;
    const batch = this.records.splice(0);
    const obs = this.observations.splice(0);
    for (const { rec } of batch) this.inFlight.set(rec.requestId, rec);
    try {
      await withDb(async (db) => {
        await insertUsage(db, batch.map((b) => b.rec));
        await upsertLatency(db, aggregateObservations(obs));
      });
    } catch (err) {
      // Keep the records for the next flush; a request id makes the retry idempotent.
      const kept = batch.filter((b) => ++b.tries < MAX_ATTEMPTS_PER_RECORD);
      this.records.unshift(...kept);
      this.log(`usage flush failed (${batch.length} records, ${batch.length - kept.length} dropped): ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      for (const { rec } of batch) this.inFlight.delete(rec.requestId);
    }
  }
}
