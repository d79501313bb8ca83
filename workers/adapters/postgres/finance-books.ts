/** The books as finance reads them: ledger postings, deposits, settlement batches, one request's trail. */
import { and, asc, desc, eq, gte, inArray, isNotNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { deposits, ledgerEntries, receipts, settlementBatches, settlementPeriods, usageEvents } from "../../../db/schema";
import { customerAccount } from "../../core/money/ledger";
import type { DepositItem, FinanceScope, LedgerItem, RequestTrace, SettlementItem } from "../../core/finance/views";

type LedgerKind = (typeof ledgerEntries.$inferSelect)["kind"];

/**
 * Postings, newest first, `limit` at a time: `before` is the id the previous page ended at
 * (`nextBefore`, null on the last page). An account sees the postings on its own ledger account only.
 */
export async function ledgerPage(
  db: Db,
  scope: FinanceScope,
  q: { limit: number; before?: number; kind?: string; from?: Date; to?: Date },
): Promise<{ entries: LedgerItem[]; nextBefore: number | null }> {
  const l = ledgerEntries;
  const rows = await db
    .select({ id: l.id, kind: l.kind, reference: l.reference, account: l.account, amountPico: l.amountPico, createdAt: l.createdAt })
    .from(l)
    .where(
      and(
        scope.kind === "account" ? eq(l.account, customerAccount(scope.accountId)) : undefined,
        q.before !== undefined ? lt(l.id, q.before) : undefined,
        q.kind !== undefined ? eq(l.kind, q.kind as LedgerKind) : undefined,
        q.from ? gte(l.createdAt, q.from) : undefined,
        q.to ? lt(l.createdAt, q.to) : undefined,
      ),
    )
    .orderBy(desc(l.id))
    .limit(q.limit + 1); // one more than asked: is there a next page?
  const entries = rows.slice(0, q.limit);
  return { entries, nextBefore: rows.length > q.limit ? entries[entries.length - 1]!.id : null };
}

/** Cursor of a deposit in chain order: "block:logIndex" (a log index is unique within its block). */
const depositCursor = (d: { blockNumber: bigint; logIndex: number }) => `${d.blockNumber}:${d.logIndex}`;
const DEPOSIT_CURSOR = /^(\d{1,20}):(\d{1,9})$/;

/** On-chain deposits, newest first; `before` is the previous page's `nextBefore` ("block:logIndex"). */
export async function depositList(
  db: Db,
  scope: FinanceScope,
  q: { limit: number; before?: string },
): Promise<{ entries: DepositItem[]; nextBefore: string | null }> {
  const d = deposits;
  const m = q.before === undefined ? null : DEPOSIT_CURSOR.exec(q.before);
  if (q.before !== undefined && !m) throw new RangeError(`not a deposit cursor: ${q.before}`);
  const rows = await db
    .select({
      chainId: d.chainId,
      txHash: d.txHash,
      logIndex: d.logIndex,
      blockNumber: d.blockNumber,
      accountId: d.accountId,
      account: d.account,
      fromAddress: d.fromAddress,
      amountBase: d.amountBase,
      status: d.status,
      createdAt: d.createdAt,
    })
    .from(d)
    .where(
      and(
        scope.kind === "account" ? eq(d.accountId, scope.accountId) : undefined,
        m ? sql`(${d.blockNumber}, ${d.logIndex}) < (${m[1]}::bigint, ${m[2]}::int)` : undefined,
      ),
    )
    .orderBy(desc(d.blockNumber), desc(d.logIndex))
    .limit(q.limit + 1);
  const entries = rows.slice(0, q.limit);
  return { entries, nextBefore: rows.length > q.limit ? depositCursor(entries[entries.length - 1]!) : null };
}

/** Periods committing a receipt of one of the account's requests. */
const periodsOfAccount = (db: Db, accountId: string) =>
  db
    .selectDistinct({ id: receipts.periodId })
    .from(usageEvents)
    .innerJoin(receipts, eq(receipts.requestId, usageEvents.requestId))
    .where(and(eq(usageEvents.accountId, accountId), isNotNull(receipts.periodId)));

/**
 * Settlement batches, the newest period first, with the period's cutoff and Merkle root. An
 * account sees the batches of periods that hold receipts of its requests.
 */
export async function settlementList(db: Db, scope: FinanceScope, q: { limit: number; periodId?: number }): Promise<SettlementItem[]> {
  const b = settlementBatches;
  const rows = await db
    .select({ batch: b, cutoff: settlementPeriods.cutoff, merkleRoot: settlementPeriods.merkleRoot })
    .from(b)
    .innerJoin(settlementPeriods, eq(settlementPeriods.id, b.periodId))
    .where(
      and(
        scope.kind === "account" ? inArray(b.periodId, periodsOfAccount(db, scope.accountId)) : undefined,
        q.periodId !== undefined ? eq(b.periodId, q.periodId) : undefined,
      ),
    )
    .orderBy(desc(b.periodId), asc(b.part))
    .limit(q.limit);
  return rows.map(({ batch, cutoff, merkleRoot }) => ({
    batchId: batch.id,
    periodId: batch.periodId,
    part: batch.part,
    cutoff,
    merkleRoot,
    totalBase: batch.totalBase,
    feeBase: batch.feeBase,
    payouts: batch.payouts.map((p) => ({ providerId: p.providerId, address: p.address, amountBase: BigInt(p.amountBase) })),
    status: batch.status,
    txHash: batch.txHash,
    blockNumber: batch.blockNumber,
    settledAt: batch.settledAt,
  }));
}

/**
 * One request from end to end: its usage event, the provider's receipt, its ledger transactions,
 * the settlement period that committed the receipt and the batches that paid it. null when there
 * is no such request or it belongs to another account: the caller cannot tell which.
 */
export async function requestTrace(db: Db, scope: FinanceScope, requestId: string): Promise<RequestTrace | null> {
  const [usage] = await db
    .select()
    .from(usageEvents)
    .where(and(eq(usageEvents.requestId, requestId), scope.kind === "account" ? eq(usageEvents.accountId, scope.accountId) : undefined));
  if (!usage) return null;
  const [receipt] = await db.select().from(receipts).where(eq(receipts.requestId, requestId));
  const l = ledgerEntries;
  const ledger = await db
    .select({ id: l.id, kind: l.kind, reference: l.reference, account: l.account, amountPico: l.amountPico, createdAt: l.createdAt })
    .from(l)
    .where(and(eq(l.reference, requestId), inArray(l.kind, ["usage", "adjustment"])))
    .orderBy(asc(l.id));
  const periodId = receipt?.periodId ?? null;
  const [period] =
    periodId === null
      ? []
      : await db
          .select({
            id: settlementPeriods.id,
            cutoff: settlementPeriods.cutoff,
            merkleRoot: settlementPeriods.merkleRoot,
            receiptCount: settlementPeriods.receiptCount,
            status: settlementPeriods.status,
            settledAt: settlementPeriods.settledAt,
          })
          .from(settlementPeriods)
          .where(eq(settlementPeriods.id, periodId));
  const batches = period ? await settlementList(db, { kind: "all" }, { limit: 1_000, periodId: period.id }) : [];
  return { usage, receipt: receipt ?? null, ledger, period: period ?? null, batches };
}
