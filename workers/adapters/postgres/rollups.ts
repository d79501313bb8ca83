/**
 * usage_rollups in Postgres: deltas added by one multi-row upsert (inside the usage write's own
 * transaction), and a rebuild from usage_events that must produce exactly what the deltas sum to.
 */
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { usageRollups } from "../../../db/schema";
import { TTFT_BOUNDS_MS, TTFT_BUCKETS, type RollupDelta } from "../../core/finance/rollup";

/** Rows per statement: 13 parameters each keeps a statement far below Postgres' 65,535. */
const CHUNK = 1_000;

/**
 * Adds these deltas to their rows (created at zero when absent). Call it inside the transaction
 * that wrote what they count: the rows then change exactly when the events do. `deltas` should be
 * sorted by key (foldUsage does) so that concurrent writers lock rows in one order.
 */
export async function addRollups(db: Db, deltas: readonly RollupDelta[]): Promise<void> {
  for (let i = 0; i < deltas.length; i += CHUNK) {
    await db
      .insert(usageRollups)
      .values(
        deltas.slice(i, i + CHUNK).map((d) => ({
          grain: d.grain,
          bucket: new Date(d.bucketMs),
          accountId: d.accountId,
          keyId: d.keyId,
          model: d.model,
          providerId: d.providerId,
          requests: d.requests,
          failedRequests: d.failedRequests,
          promptTokens: d.promptTokens,
          completionTokens: d.completionTokens,
          costPico: d.costPico,
          feePico: d.feePico,
          ttftHistogram: d.ttftHistogram,
        })),
      )
      .onConflictDoUpdate({
        target: [
          usageRollups.grain,
          usageRollups.bucket,
          usageRollups.accountId,
          usageRollups.keyId,
          usageRollups.model,
          usageRollups.providerId,
        ],
        set: {
          requests: sql`usage_rollups.requests + excluded.requests`,
          failedRequests: sql`usage_rollups.failed_requests + excluded.failed_requests`,
          promptTokens: sql`usage_rollups.prompt_tokens + excluded.prompt_tokens`,
          completionTokens: sql`usage_rollups.completion_tokens + excluded.completion_tokens`,
          costPico: sql`usage_rollups.cost_pico + excluded.cost_pico`,
          feePico: sql`usage_rollups.fee_pico + excluded.fee_pico`,
          ttftHistogram: histogramSum((i) =>
            sql.raw(`coalesce(usage_rollups.ttft_histogram[${i}], 0) + coalesce(excluded.ttft_histogram[${i}], 0)`),
          ),
        },
      });
  }
}

/** `array[e(1), …, e(n)]::int[]` over the histogram's buckets (Postgres arrays count from 1). */
function histogramSum(element: (i: number) => SQL): SQL {
  const items = Array.from({ length: TTFT_BUCKETS }, (_, i) => element(i + 1));
  return sql`array[${sql.join(items, sql`, `)}]::int[]`;
}

const DAY_MS = 86_400_000;

/**
 * Recomputes the rollups from usage_events in one aggregation (backfills, repairs, benches): every
 * bucket of [from, to), widened to whole UTC days (a day row sums its hours), or everything. It
 * locks the rollups against writers meanwhile (readers still see the old rows until it commits),
 * so an event written concurrently is counted either by the rebuild or by its own upsert after it.
 * Usage flushes wait for it (~24 s for 1M events on the bench): on a live system rebuild a few days at a time.
 */
export async function rebuildRollups(db: Db, from?: Date, to?: Date): Promise<{ rows: number }> {
  const lo = from ? new Date(Math.floor(from.getTime() / DAY_MS) * DAY_MS) : null;
  const hi = to ? new Date(Math.ceil(to.getTime() / DAY_MS) * DAY_MS) : null;
  const inRange = (col: SQL) =>
    sql.join(
      [
        sql`true`,
        ...(lo ? [sql`${col} >= ${lo.toISOString()}::timestamptz`] : []),
        ...(hi ? [sql`${col} < ${hi.toISOString()}::timestamptz`] : []),
      ],
      sql` and `,
    );
  const bounds = sql.raw(`'{${TTFT_BOUNDS_MS.join(",")}}'::int[]`);
  const hourHistogram = histogramSum((i) => sql`count(*) filter (where width_bucket(ttft_ms, ${bounds}) = ${sql.raw(String(i - 1))})`);
  const dayHistogram = histogramSum((i) => sql.raw(`sum(ttft_histogram[${i}])`));
  return db.transaction(async (txn) => {
    const tx: Db = txn;
    await tx.execute(sql`lock table usage_rollups in exclusive mode`);
    await tx.execute(sql`delete from usage_rollups where ${inRange(sql`bucket`)}`);
    await tx.execute(sql`
      insert into usage_rollups (grain, bucket, account_id, key_id, model, provider_id, requests, failed_requests,
        prompt_tokens, completion_tokens, cost_pico, fee_pico, ttft_histogram)
      with h as materialized (
        select date_trunc('hour', created_at, 'UTC') as bucket, account_id, key_id, model, coalesce(provider_id, '') as provider_id,
          count(*) as requests, count(*) filter (where status = 'failed') as failed_requests,
          sum(prompt_tokens)::bigint as prompt_tokens, sum(completion_tokens)::bigint as completion_tokens,
          sum(cost_pico)::bigint as cost_pico, sum(fee_pico)::bigint as fee_pico, ${hourHistogram} as ttft_histogram
        from usage_events where ${inRange(sql`created_at`)}
        group by 1, 2, 3, 4, 5
      )
      select 'hour', bucket, account_id, key_id, model, provider_id, requests, failed_requests, prompt_tokens, completion_tokens, cost_pico, fee_pico, ttft_histogram from h
      union all
      select 'day', date_trunc('day', bucket, 'UTC'), account_id, key_id, model, provider_id, sum(requests)::bigint, sum(failed_requests)::bigint,
        sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint, sum(cost_pico)::bigint, sum(fee_pico)::bigint, ${dayHistogram}
      from h group by 2, 3, 4, 5, 6`);
    const [count] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(usageRollups)
      .where(inRange(sql`${usageRollups.bucket}`));
    return { rows: count?.n ?? 0 };
  });
}
