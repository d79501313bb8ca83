/** Usage figures for finance, read from usage_rollups only (never a scan of usage_events). */
import { and, desc, eq, gte, inArray, lt, or, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { apiKeys, ledgerEntries, usageRollups } from "../../../db/schema";
import { p50FromHistogram, TTFT_BUCKETS } from "../../core/finance/rollup";
import { pricePerMTokPico, recentHours, rollupSegments, type RollupSegment } from "../../core/finance/range";
import { customerAccount } from "../../core/money/ledger";
import { balancesOf } from "./ledger";
import type { AccountSummary, FinanceScope, SeriesPoint, UsageGroup, UsageQuery, UsageRow } from "../../core/finance/views";

const r = usageRollups;

export function scopeFilter(scope: FinanceScope): SQL | undefined {
  return scope.kind === "account" ? eq(r.accountId, scope.accountId) : undefined;
}

/** Rows of these segments; never matches anything when there are none. */
export function segmentFilter(segments: readonly RollupSegment[]): SQL {
  if (segments.length === 0) return sql`false`;
  return or(...segments.map((s) => and(eq(r.grain, s.grain), gte(r.bucket, new Date(s.fromMs)), lt(r.bucket, new Date(s.toMs)))))!;
}

/**
 * The UTC day of a row. Day rows already start one, so only hour rows (the ragged ends of a range)
 * pay for date_trunc with a time zone, which costs ~1 µs a row: most of a 90-day report otherwise.
 */
export const dayOf = sql`case when ${r.grain} = 'day' then ${r.bucket} else date_trunc('day', ${r.bucket}, 'UTC') end`;
/** A bucket start as epoch seconds: formatted in JS, once per output row rather than per input row. */
export const epochOf = (bucket: SQL) => sql<string>`extract(epoch from ${bucket})::bigint::text`;
export const isoOfEpoch = (seconds: string) => new Date(Number(seconds) * 1000).toISOString();
const sumText = (col: SQL | AnyColumn) => sql<string>`coalesce(sum(${col}), 0)::text`;
/** The summed histogram as Postgres array text, "{3,0,1,…}". */
export const histogramText = sql<string>`array[${sql.join(
  Array.from({ length: TTFT_BUCKETS }, (_, i) => sql.raw(`coalesce(sum(ttft_histogram[${i + 1}]), 0)`)),
  sql`, `,
)}]::text`;
export const parseHistogram = (text: string) => text.replace(/[{}]/g, "").split(",").filter(Boolean).map(Number);

/** What each grouping groups rows by, and how the key reads in the output. */
const GROUPS: Record<UsageGroup, { by: SQL; key: SQL<string>; toGroup: (key: string) => string }> = {
  day: { by: dayOf, key: epochOf(dayOf), toGroup: isoOfEpoch },
  hour: { by: sql`${r.bucket}`, key: epochOf(sql`${r.bucket}`), toGroup: isoOfEpoch },
  model: { by: sql`${r.model}`, key: sql<string>`${r.model}`, toGroup: (k) => k },
  key: { by: sql`${r.keyId}`, key: sql<string>`${r.keyId}::text`, toGroup: (k) => k },
  provider: { by: sql`${r.providerId}`, key: sql<string>`${r.providerId}`, toGroup: (k) => k },
};

/**
 * Usage grouped by day, hour, model, key or provider over [from, to) (whole hours: see
 * core/finance/range). Whole days come from day rows and ragged ends from hour rows, so a 90-day
 * report sums ~90 rows per key × model × provider. Time groups ascend; the others by spend, largest first.
 */
export async function usageReport(db: Db, scope: FinanceScope, q: UsageQuery): Promise<UsageRow[]> {
  const segments = rollupSegments(q.from.getTime(), q.to.getTime(), q.groupBy === "hour");
  if (segments.length === 0) return [];
  const g = GROUPS[q.groupBy];
  const rows = await db
    .select({
      group: g.key,
      requests: sumText(r.requests),
      failed: sumText(r.failedRequests),
      prompt: sumText(r.promptTokens),
      completion: sumText(r.completionTokens),
      cost: sumText(r.costPico),
      fee: sumText(r.feePico),
      histogram: histogramText,
    })
    .from(r)
    .where(
      and(
        scopeFilter(scope),
        segmentFilter(segments),
        q.model !== undefined ? eq(r.model, q.model) : undefined,
        q.keyId !== undefined ? eq(r.keyId, q.keyId) : undefined,
        q.providerId !== undefined ? eq(r.providerId, q.providerId) : undefined,
      ),
    )
    .groupBy(g.by);
  const keyNames =
    q.groupBy === "key"
      ? await namesOf(
          db,
          rows.map((x) => x.group),
        )
      : new Map<string, { name: string; prefix: string }>();
  const out = rows.map((x): UsageRow => {
    const promptTokens = BigInt(x.prompt);
    const completionTokens = BigInt(x.completion);
    const costPico = BigInt(x.cost);
    const group = g.toGroup(x.group);
    return {
      group,
      label: labelOf(q.groupBy, group, keyNames),
      requests: Number(x.requests),
      failedRequests: Number(x.failed),
      promptTokens,
      completionTokens,
      costPico,
      feePico: BigInt(x.fee),
      avgPricePerMTokPico: pricePerMTokPico(costPico, promptTokens + completionTokens),
      p50TtftMs: p50FromHistogram(parseHistogram(x.histogram)),
    };
  });
  const byTime = q.groupBy === "day" || q.groupBy === "hour";
  return out.sort((a, b) =>
    byTime ? cmp(a.group, b.group) : a.costPico !== b.costPico ? (a.costPico > b.costPico ? -1 : 1) : cmp(a.group, b.group),
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function labelOf(groupBy: UsageGroup, group: string, keys: Map<string, { name: string; prefix: string }>): string {
  switch (groupBy) {
    case "day":
      return group.slice(0, 10);
    case "hour":
      return `${group.slice(0, 10)} ${group.slice(11, 16)}`;
    case "key": {
      const k = keys.get(group);
      return k ? k.name || k.prefix : group;
    }
    case "provider":
      return group === "" ? "(no provider)" : group;
    case "model":
      return group;
  }
}

async function namesOf(db: Db, keyIds: string[]): Promise<Map<string, { name: string; prefix: string }>> {
  if (keyIds.length === 0) return new Map();
  const rows = await db
    .select({ id: apiKeys.id, name: apiKeys.name, prefix: apiKeys.prefix })
    .from(apiKeys)
    .where(inArray(apiKeys.id, keyIds));
  return new Map(rows.map((k) => [k.id, { name: k.name, prefix: k.prefix }]));
}

/** Requests, tokens and spend per bucket × model over [from, to): the data of a chart stacked by model. */
export async function usageSeries(db: Db, scope: FinanceScope, q: { from: Date; to: Date; grain: "hour" | "day" }): Promise<SeriesPoint[]> {
  const segments = rollupSegments(q.from.getTime(), q.to.getTime(), q.grain === "hour");
  if (segments.length === 0) return [];
  const by = q.grain === "hour" ? sql`${r.bucket}` : dayOf;
  const rows = await db
    .select({
      bucket: epochOf(by),
      model: r.model,
      requests: sumText(r.requests),
      tokens: sql<string>`coalesce(sum(${r.promptTokens} + ${r.completionTokens}), 0)::text`,
      cost: sumText(r.costPico),
    })
    .from(r)
    .where(and(scopeFilter(scope), segmentFilter(segments)))
    .groupBy(by, r.model)
    .orderBy(by, r.model);
  return rows.map((x) => ({
    bucket: isoOfEpoch(x.bucket),
    model: x.model,
    requests: Number(x.requests),
    tokens: BigInt(x.tokens),
    costPico: BigInt(x.cost),
  }));
}

const TOP_KEYS = 5;

/** Balance, recent spend, burn rate and runway, and the keys that spend most. */
export async function accountSummary(db: Db, scope: FinanceScope, nowMs: number): Promise<AccountSummary> {
  const day = recentHours(nowMs, 24);
  const week = recentHours(nowMs, 24 * 7);
  const spend = async (w: { fromMs: number; toMs: number }) => {
    const [row] = await db
      .select({ cost: sumText(r.costPico) })
      .from(r)
      .where(and(scopeFilter(scope), segmentFilter(rollupSegments(w.fromMs, w.toMs, false))));
    return BigInt(row?.cost ?? "0");
  };
  const balancePico = await balanceOf(db, scope);
  const spend24hPico = await spend(day);
  const spend7dPico = await spend(week);
  const burnRatePicoPerDay = spend7dPico / 7n;
  const runwayDays = burnRatePicoPerDay <= 0n ? null : balancePico <= 0n ? 0 : Number((balancePico * 10n) / burnRatePicoPerDay) / 10;

  const top = await db
    .select({ keyId: r.keyId, requests: sumText(r.requests), cost: sumText(r.costPico) })
    .from(r)
    .where(and(scopeFilter(scope), segmentFilter(rollupSegments(week.fromMs, week.toMs, false))))
    .groupBy(r.keyId)
    .orderBy(desc(sql`sum(${r.costPico})`), r.keyId)
    .limit(TOP_KEYS);
  const names = await namesOf(
    db,
    top.map((t) => t.keyId),
  );
  return {
    balancePico,
    spend24hPico,
    spend7dPico,
    burnRatePicoPerDay,
    runwayDays,
    topKeys: top.map((t) => ({
      keyId: t.keyId,
      name: names.get(t.keyId)?.name ?? "",
      prefix: names.get(t.keyId)?.prefix ?? "",
      requests: Number(t.requests),
      costPico: BigInt(t.cost),
    })),
  };
}

/** One account's balance, or every customer's together for an operator. */
async function balanceOf(db: Db, scope: FinanceScope): Promise<bigint> {
  if (scope.kind === "account") return (await balancesOf(db, [customerAccount(scope.accountId)])).get(customerAccount(scope.accountId))!;
  const [row] = await db
    .select({ total: sql<string>`coalesce(sum(${ledgerEntries.amountPico}), 0)::text` })
    .from(ledgerEntries)
    .where(sql`${ledgerEntries.account} like 'customer:%'`);
  return BigInt(row?.total ?? "0");
}
