import { and, eq, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { latencyStats, providers, usageEvents } from "../../../db/schema";
import type { UsageRecord } from "../../core/metering/usage";
import type { TopUp, TopUpRequest } from "../../core/metering/records";
import { adjustmentTransaction, customerAccount, usageTransactionOf } from "../../core/money/ledger";
import { customerEntryId, writeTransactions } from "./ledger";
import type { Endpoint } from "../../core/routing/types";
import { applyBatch, type FigureUpdate, type LatencyBatch } from "../../core/routing/latency";
import { foldUsage, topUpDeltas } from "../../core/finance/rollup";
import { rowsOf } from "./json-rows";
import { addRollups } from "./rollups";

export { rebuildRollups } from "./rollups";
export type { TopUp };

/**
 * Usage events and their ledger postings, in one transaction: an event is never written without
 * its entries, nor entries without their event. A replayed event (same request id) writes nothing.
 * Resolves to the request ids written by this call (a replayed one is not among them).
 */
export async function insertUsage(db: Db, records: readonly UsageRecord[]): Promise<string[]> {
  if (records.length === 0) return [];
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(usageEvents)
      .select(rowsOf(usageEvents, records.map(toRow)).select)
      .onConflictDoNothing({ target: usageEvents.requestId })
      .returning({ requestId: usageEvents.requestId });
    const fresh = new Set(inserted.map((r) => r.requestId));
    // The first copy of each fresh event (a retried flush can carry one twice): it was the one written.
    const written = records.filter((r) => fresh.delete(r.requestId));
    const charged = written.filter((r) => r.providerId !== null && r.costPico > 0n);
    await writeTransactions(
      tx,
      charged.map((r) =>
        usageTransactionOf({
          requestId: r.requestId,
          accountId: r.accountId,
          providerId: r.providerId!,
          costPico: r.costPico,
          feePico: r.feePico,
        }),
      ),
    );
    // Only what was written now: a replayed event is already in its rollup rows.
    await addRollups(tx, foldUsage(written));
    return written.map((r) => r.requestId);
  });
}

/**
 * Bills a usage event again (a client that left, corrected to the provider's signed counts): the
 * event's new figures and the adjustment postings commit together, once, and only if the event is
 * still as it was billed.
 */
export async function topUpUsage(db: Db, t: TopUpRequest): Promise<TopUp> {
  return db.transaction(async (tx) => {
    // The event as billed, locked: its rollup rows get the difference between that and the new bill.
    const [before] = await tx
      .select({
        accountId: usageEvents.accountId,
        keyId: usageEvents.keyId,
        model: usageEvents.model,
        providerId: usageEvents.providerId,
        createdAt: usageEvents.createdAt,
        promptTokens: usageEvents.promptTokens,
        completionTokens: usageEvents.completionTokens,
        costPico: usageEvents.costPico,
        feePico: usageEvents.feePico,
      })
      .from(usageEvents)
      .where(and(eq(usageEvents.requestId, t.requestId), eq(usageEvents.costPico, t.previousCostPico)))
      .for("update");
    if (!before) return { applied: false };
    await tx
      .update(usageEvents)
      .set({ promptTokens: t.promptTokens, completionTokens: t.completionTokens, costPico: t.costPico, feePico: t.feePico })
      .where(eq(usageEvents.requestId, t.requestId));
    await addRollups(
      tx,
      topUpDeltas(
        { ...before, createdAtMs: before.createdAt.getTime() },
        {
          promptTokens: BigInt(t.promptTokens - before.promptTokens),
          completionTokens: BigInt(t.completionTokens - before.completionTokens),
          costPico: t.costPico - before.costPico,
          feePico: t.feePico - before.feePico,
        },
      ),
    );
    if (t.costPico === t.previousCostPico) return { applied: true, customerPosting: null }; // other counts, same charge: nothing to book
    const adjustment = adjustmentTransaction({
      requestId: t.requestId,
      accountId: t.accountId,
      providerId: t.providerId,
      deltaCostPico: t.costPico - t.previousCostPico,
      deltaFeePico: t.feePico - t.previousFeePico,
    });
    await writeTransactions(tx, [adjustment]);
    const customer = customerAccount(t.accountId);
    const entryId = await customerEntryId(tx, "adjustment", t.requestId, t.accountId);
    return { applied: true, customerPosting: { amountPico: adjustment.postings.find((p) => p.account === customer)!.amountPico, entryId } };
  });
}

export async function findUsage(db: Db, requestId: string, accountId: string): Promise<UsageRecord | null> {
  const [row] = await db
    .select()
    .from(usageEvents)
    .where(and(eq(usageEvents.requestId, requestId), eq(usageEvents.accountId, accountId)))
    .limit(1);
  return row ? fromRow(row) : null;
}

/**
 * One statement per edge × provider × model, applying core's folded batch so that the stored
 * EWMA equals folding the observations one by one (0 = not yet measured). A batch with an
 * observation from before the provider's last resume is not applied (core/routing/latency.ts):
 * the statement selects nothing then, so neither inserts nor updates.
 */
export async function upsertLatency(db: Db, batches: readonly LatencyBatch[]): Promise<void> {
  for (const b of batches) {
    const fresh = applyBatch(undefined, b);
    const oldest = new Date(b.oldestAtMs).toISOString();
    const resumedSince = sql`exists (select 1 from ${providers} where ${providers.id} = ${b.providerId} and ${providers.resumedAt} > ${oldest}::timestamptz)`;
    await db.execute(sql`
      insert into ${latencyStats} (edge, provider_id, model, ttft_ms, tpot_ms, success_rate, samples)
      select ${b.edge}, ${b.providerId}, ${b.model}, ${fresh.ttftMs}::float8, ${fresh.tpotMs}::float8, ${fresh.successRate}::float8, ${fresh.samples}::int
      where not ${resumedSince}
      on conflict (edge, provider_id, model) do update set
        ttft_ms = ${figure(latencyStats.ttftMs, b.ttftMs, sql`${latencyStats.ttftMs} > 0`)},
        tpot_ms = ${figure(latencyStats.tpotMs, b.tpotMs, sql`${latencyStats.tpotMs} > 0`)},
        success_rate = ${figure(latencyStats.successRate, b.successRate, sql`${latencyStats.samples} > 0`)},
        samples = ${latencyStats.samples} + ${b.count}::int,
        updated_at = now()`);
  }
}

function figure(column: AnyColumn, f: FigureUpdate, exists: SQL): SQL {
  if (f.n === 0) return sql`${column}`;
  return sql`CASE WHEN ${exists} THEN ${column} * ${f.decay}::float8 + ${f.add}::float8 ELSE ${f.fresh}::float8 END`;
}

function toRow(r: UsageRecord): typeof usageEvents.$inferInsert {
  const { createdAtMs, ...rest } = r;
  return { ...rest, createdAt: new Date(createdAtMs) };
}

function fromRow(r: typeof usageEvents.$inferSelect): UsageRecord {
  const { createdAt, ...rest } = r;
  return { ...rest, endpoint: r.endpoint as Endpoint, createdAtMs: createdAt.getTime() };
}
