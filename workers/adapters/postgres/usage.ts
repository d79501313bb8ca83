import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { latencyStats, usageEvents } from "../../../db/schema";
import type { UsageRecord } from "../../core/metering/usage";
import type { Endpoint } from "../../core/routing/types";

/** One batch of usage events; a replayed request id collapses on the primary key. */
export async function insertUsage(db: Db, records: readonly UsageRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db.insert(usageEvents).values(records.map(toRow)).onConflictDoNothing({ target: usageEvents.requestId });
}

export async function findUsage(db: Db, requestId: string, accountId: string): Promise<UsageRecord | null> {
  const [row] = await db.select().from(usageEvents)
    .where(and(eq(usageEvents.requestId, requestId), eq(usageEvents.accountId, accountId))).limit(1);
  return row ? fromRow(row) : null;
}

/** A batch's observations for one edge × provider × model, folded in one upsert. */
export interface LatencyUpdate {
  edge: string;
  providerId: string;
  model: string;
  count: number;
  okCount: number;
  /** Means over the batch's successful samples; null when none carried the figure. */
  ttftMs: number | null;
  tpotMs: number | null;
}

/**
 * EWMA with alpha per observation: a batch of k observations moves the average by
 * 1 - (1 - alpha)^k toward the batch mean, which equals k sequential folds when the
 * batch's samples are alike, at the cost of one statement per key instead of k.
 */
export async function upsertLatency(db: Db, updates: readonly LatencyUpdate[], alpha = 0.2): Promise<void> {
  for (const u of updates) {
    const weight = 1 - (1 - alpha) ** u.count;
    const okRate = u.okCount / u.count;
    const ttft = u.ttftMs, tpot = u.tpotMs;
    await db.insert(latencyStats).values({
      edge: u.edge, providerId: u.providerId, model: u.model,
      ttftMs: ttft ?? 0, tpotMs: tpot ?? 0, successRate: okRate, samples: u.count,
    }).onConflictDoUpdate({
      target: [latencyStats.edge, latencyStats.providerId, latencyStats.model],
      set: {
        ttftMs: ttft === null ? sql`${latencyStats.ttftMs}` : sql`${latencyStats.ttftMs} * ${1 - weight} + ${ttft * weight}`,
        tpotMs: tpot === null ? sql`${latencyStats.tpotMs}` : sql`${latencyStats.tpotMs} * ${1 - weight} + ${tpot * weight}`,
        successRate: sql`${latencyStats.successRate} * ${1 - weight} + ${okRate * weight}`,
        samples: sql`${latencyStats.samples} + ${u.count}`,
        updatedAt: sql`now()`,
      },
    });
  }
}

function toRow(r: UsageRecord): typeof usageEvents.$inferInsert {
  const { createdAtMs, ...rest } = r;
  return { ...rest, createdAt: new Date(createdAtMs) };
}

function fromRow(r: typeof usageEvents.$inferSelect): UsageRecord {
  const { createdAt, ...rest } = r;
  return { ...rest, endpoint: r.endpoint as Endpoint, createdAtMs: createdAt.getTime() };
}
