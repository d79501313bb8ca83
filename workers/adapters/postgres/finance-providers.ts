/**
 * The provider side of the books: what each provider earned (rollups: cost minus the protocol fee,
 * which is exactly what its usage and adjustment postings credit), what settled batches paid it
 * (ledger), and one provider's own view.
 */
import { and, desc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { latencyStats, ledgerEntries, providers, receipts, settlementBatches, usageRollups } from "../../../db/schema";
import { p50FromHistogram } from "../../core/finance/rollup";
import { rollupSegments } from "../../core/finance/range";
import { providerAccount } from "../../core/money/ledger";
import { dayOf, epochOf, histogramText, isoOfEpoch, parseHistogram, segmentFilter } from "./finance-usage";
import type { ProviderEarning, ProviderOverview } from "../../core/finance/views";

const r = usageRollups;
const earnedText = sql<string>`coalesce(sum(${r.costPico} - ${r.feePico}), 0)::text`;

/** Every provider's earnings, payouts and unpaid balance (operators only). */
export async function providerEarnings(db: Db, only?: string[]): Promise<ProviderEarning[]> {
  const list = await db
    .select({ id: providers.id, address: providers.address, stakeBase: providers.stakeBase })
    .from(providers)
    .where(only ? inArray(providers.id, only) : undefined)
    .orderBy(providers.id);
  if (list.length === 0) return [];
  const ids = list.map((p) => p.id);
  // Day rows hold everything the hour rows do: summing them alone counts each request once.
  const earned = await db
    .select({ providerId: r.providerId, earned: earnedText, requests: sql<string>`coalesce(sum(${r.requests}), 0)::text` })
    .from(r)
    .where(and(eq(r.grain, "day"), inArray(r.providerId, ids)))
    .groupBy(r.providerId);
  // A settlement posting debits the provider's ledger account by what the batch paid it.
  const paid = await db
    .select({ account: ledgerEntries.account, paid: sql<string>`(-coalesce(sum(${ledgerEntries.amountPico}), 0))::text` })
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.kind, "settlement"), inArray(ledgerEntries.account, ids.map(providerAccount))))
    .groupBy(ledgerEntries.account);
  const earnedBy = new Map(earned.map((e) => [e.providerId, e]));
  const paidBy = new Map(paid.map((p) => [p.account, BigInt(p.paid)]));
  return list.map((p) => {
    const earnedPico = BigInt(earnedBy.get(p.id)?.earned ?? "0");
    const paidPico = paidBy.get(providerAccount(p.id)) ?? 0n;
    return {
      providerId: p.id,
      address: p.address,
      earnedPico,
      paidPico,
      unpaidPico: earnedPico - paidPico,
      requests: Number(earnedBy.get(p.id)?.requests ?? 0),
      stakeBase: p.stakeBase,
    };
  });
}

const RECENT_RECEIPTS = 20;
const RECENT_PAYOUTS = 50;

/** What a provider sees of itself over [from, to); null for an unknown provider. */
export async function providerOverview(db: Db, providerId: string, q: { from: Date; to: Date }): Promise<ProviderOverview | null> {
  const [earning] = await providerEarnings(db, [providerId]);
  if (!earning) return null;
  const [p] = await db.select({ suspended: providers.suspended }).from(providers).where(eq(providers.id, providerId));
  const inRange = and(eq(r.providerId, providerId), segmentFilter(rollupSegments(q.from.getTime(), q.to.getTime(), false)));
  const [totals] = await db
    .select({
      requests: sql<string>`coalesce(sum(${r.requests}), 0)::text`,
      failed: sql<string>`coalesce(sum(${r.failedRequests}), 0)::text`,
      prompt: sql<string>`coalesce(sum(${r.promptTokens}), 0)::text`,
      completion: sql<string>`coalesce(sum(${r.completionTokens}), 0)::text`,
      earned: earnedText,
      histogram: histogramText,
    })
    .from(r)
    .where(inRange);
  const daily = await db
    .select({ bucket: epochOf(dayOf), requests: sql<string>`sum(${r.requests})::text`, earned: earnedText })
    .from(r)
    .where(inRange)
    .groupBy(dayOf)
    .orderBy(dayOf);

  const b = settlementBatches;
  const batches = await db
    .select({
      id: b.id,
      periodId: b.periodId,
      payouts: b.payouts,
      status: b.status,
      txHash: b.txHash,
      blockNumber: b.blockNumber,
      settledAt: b.settledAt,
    })
    .from(b)
    .where(sql`${b.payouts} @> ${JSON.stringify([{ providerId }])}::jsonb`)
    .orderBy(desc(b.periodId), b.part)
    .limit(RECENT_PAYOUTS);
  const latency = await db
    .select({
      edge: latencyStats.edge,
      model: latencyStats.model,
      ttftMs: latencyStats.ttftMs,
      tpotMs: latencyStats.tpotMs,
      successRate: latencyStats.successRate,
      samples: latencyStats.samples,
      updatedAt: latencyStats.updatedAt,
    })
    .from(latencyStats)
    .where(eq(latencyStats.providerId, providerId))
    .orderBy(latencyStats.edge, latencyStats.model);
  const samples = latency.reduce((s, l) => s + l.samples, 0);
  const recent = await db
    .select({
      requestId: receipts.requestId,
      model: receipts.model,
      promptTokens: receipts.promptTokens,
      completionTokens: receipts.completionTokens,
      status: receipts.status,
      periodId: receipts.periodId,
      createdAt: receipts.createdAt,
    })
    .from(receipts)
    .where(and(eq(receipts.providerId, providerId), ne(receipts.status, "orphan")))
    .orderBy(desc(receipts.createdAt))
    .limit(RECENT_RECEIPTS);

  const histogram = parseHistogram(totals?.histogram ?? "{}");
  return {
    ...earning,
    suspended: p?.suspended ?? false,
    range: {
      from: q.from,
      to: q.to,
      requests: Number(totals?.requests ?? 0),
      failedRequests: Number(totals?.failed ?? 0),
      promptTokens: BigInt(totals?.prompt ?? "0"),
      completionTokens: BigInt(totals?.completion ?? "0"),
      earnedPico: BigInt(totals?.earned ?? "0"),
      p50TtftMs: p50FromHistogram(histogram),
    },
    daily: daily.map((d) => ({ bucket: isoOfEpoch(d.bucket).slice(0, 10), requests: Number(d.requests), earnedPico: BigInt(d.earned) })),
    payouts: batches.map((x) => ({
      batchId: x.id,
      periodId: x.periodId,
      amountBase: BigInt(x.payouts.find((y) => y.providerId === providerId)?.amountBase ?? "0"),
      status: x.status,
      txHash: x.txHash,
      blockNumber: x.blockNumber,
      settledAt: x.settledAt,
    })),
    latency,
    // Success is an EWMA per edge × model: weighting by samples favours where the provider works most.
    successRate: samples > 0 ? latency.reduce((s, l) => s + l.successRate * l.samples, 0) / samples : null,
    recentReceipts: recent,
  };
}
