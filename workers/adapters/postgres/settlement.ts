/**
 * The settlement job's records. A period is opened in one database transaction (an advisory lock
 * makes concurrent runs wait): payouts from ledger balances, receipts assigned to the period, the
 * Merkle root, and every batch recorded before anything is sent. A batch's ledger postings and its
 * `settled` status commit together, so the books change exactly once per confirmed batch.
 */
import { and, asc, eq, isNull, lt, ne, sql } from "drizzle-orm";
import type { Hex } from "viem";
import type { Db, WithDb } from "../../../db/client";
import type { OpenPeriod, ReceiptInPeriod, SettlementStore } from "../../ports";
import { ledgerEntries, providers, receipts, settlementBatches, settlementPeriods } from "../../../db/schema";
import { PROTOCOL_FEES, settlementTransaction } from "../../core/money/ledger";
import { periodTree } from "../../core/settlement/merkle";
import { EscrowShortfallError } from "../../core/settlement/errors";
import { batchIdOf, batchPico, planPayouts, type PayoutPlan } from "../../core/settlement/payouts";
import { markWithdrawalLimited, withdrawalsToLimit } from "./chain-sync";
import { writeTransactions } from "./ledger";

/** The SettlementStore port: each call one database session; opening a period and finalizing a batch are one transaction each. */
export function pgSettlementStore(withDb: WithDb): SettlementStore {
  return {
    openPeriod: () => withDb((db) => openPeriod(db)),
    createPeriod: (a) => withDb((db) => createPeriod(db, a)),
    markSending: (batchId, signed) => withDb((db) => markSending(db, batchId, signed)),
    markRetryable: (batchId, error) => withDb((db) => markRetryable(db, batchId, error)),
    noteError: (batchId, error) => withDb((db) => noteError(db, batchId, error)),
    finalizeBatch: (batchId, onChain) => withDb((db) => finalizeBatch(db, batchId, onChain)),
    withdrawalsToLimit: () => withDb((db) => withdrawalsToLimit(db)),
    markWithdrawalLimited: (w, limitTxHash) => withDb((db) => markWithdrawalLimited(db, w, limitTxHash)),
  };
}

export async function openPeriod(db: Db): Promise<OpenPeriod | null> {
  const [period] = await db.select().from(settlementPeriods).where(eq(settlementPeriods.status, "open"));
  if (!period) return null;
  const batches = await db
    .select()
    .from(settlementBatches)
    .where(eq(settlementBatches.periodId, period.id))
    .orderBy(asc(settlementBatches.part));
  return { period, batches };
}

/**
 * Opens the next period at `cutoff` if anything is payable. Returns null when nothing reaches one
 * base unit (no period is created); the open period if one already exists (a concurrent run).
 */
export async function createPeriod(
  db: Db,
  a: {
    chainId: number;
    settlement: Hex;
    cutoff: Date;
    maxPayoutsPerBatch: number;
    escrowBase: bigint;
  },
): Promise<{ open: OpenPeriod; plan: PayoutPlan } | { open: OpenPeriod; plan: null } | null> {
  return db.transaction(async (txn) => {
    const tx: Db = txn;
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('meshgate.settlement'))`);
    const existing = await openPeriod(tx);
    if (existing) return { open: existing, plan: null };

    const balances = await tx
      .select({
        account: ledgerEntries.account,
        total: sql<string>`sum(${ledgerEntries.amountPico})::text`,
      })
      .from(ledgerEntries)
      .where(sql`${ledgerEntries.account} like 'provider:%' or ${ledgerEntries.account} = ${PROTOCOL_FEES}`)
      .groupBy(ledgerEntries.account);
    const addresses = new Map(
      (await tx.select({ id: providers.id, address: providers.address }).from(providers)).map((p) => [p.id, p.address]),
    );
    const feesPico = BigInt(balances.find((b) => b.account === PROTOCOL_FEES)?.total ?? "0");
    const earnings = balances
      .filter((b) => b.account.startsWith("provider:"))
      .map((b) => {
        const providerId = b.account.slice("provider:".length);
        return { providerId, address: addresses.get(providerId) ?? null, balancePico: BigInt(b.total) };
      });
    const plan = planPayouts({ earnings, feesPico, maxPayoutsPerBatch: a.maxPayoutsPerBatch });
    if (plan.batches.length === 0) return null;
    const total = plan.batches.reduce((s, b) => s + b.totalBase, 0n);
    if (total > a.escrowBase) {
      throw new EscrowShortfallError(
        `the period would pay ${total} base units but the contract's escrow holds ${a.escrowBase}: deposit to back the credit granted off chain`,
      );
    }

    const [period] = await tx
      .insert(settlementPeriods)
      .values({ chainId: a.chainId, cutoff: a.cutoff, merkleRoot: "0x", receiptCount: 0, status: "open" })
      .returning();
    const digests = (
      await tx
        .update(receipts)
        .set({ periodId: period!.id })
        .where(and(isNull(receipts.periodId), lt(receipts.createdAt, a.cutoff)))
        .returning({ digest: receipts.digest })
    ).map((r) => r.digest as Hex);
    const tree = periodTree(digests);
    const [withRoot] = await tx
      .update(settlementPeriods)
      .set({ merkleRoot: tree.root, receiptCount: tree.size })
      .where(eq(settlementPeriods.id, period!.id))
      .returning();
    const rows = plan.batches.map((b) => ({
      id: batchIdOf(a.chainId, a.settlement, period!.id, b.part),
      periodId: period!.id,
      part: b.part,
      payouts: b.payouts.map((p) => ({ providerId: p.providerId, address: p.address, amountBase: p.amountBase.toString() })),
      feeBase: b.feeBase,
      totalBase: b.totalBase,
      status: "recorded" as const,
    }));
    const batches = await tx.insert(settlementBatches).values(rows).returning();
    return { open: { period: withRoot!, batches: batches.sort((x, y) => x.part - y.part) }, plan };
  });
}

/** The signed transaction is stored before it is broadcast: from here on its hash is what we track. */
export async function markSending(db: Db, batchId: string, signed: { nonce: number; hash: string; raw: string }): Promise<boolean> {
  const rows = await db
    .update(settlementBatches)
    .set({
      status: "sending",
      nonce: signed.nonce,
      txHash: signed.hash,
      rawTx: signed.raw,
      attempts: sql`${settlementBatches.attempts} + 1`,
      lastError: null,
    })
    .where(and(eq(settlementBatches.id, batchId), eq(settlementBatches.status, "recorded")))
    .returning({ id: settlementBatches.id });
  return rows.length === 1;
}

/** The transaction reverted or its nonce went to something else: the batch may be signed again. */
export async function markRetryable(db: Db, batchId: string, error: string): Promise<void> {
  await db
    .update(settlementBatches)
    .set({ status: "recorded", nonce: null, txHash: null, rawTx: null, lastError: error.slice(0, 1000) })
    .where(and(eq(settlementBatches.id, batchId), ne(settlementBatches.status, "settled")));
}

export async function noteError(db: Db, batchId: string, error: string): Promise<void> {
  await db
    .update(settlementBatches)
    .set({ lastError: error.slice(0, 1000) })
    .where(eq(settlementBatches.id, batchId));
}

/**
 * Confirmed on chain: the ledger pays the batch out and the batch is settled, in one transaction;
 * the period closes with its last batch. Running it twice changes nothing the second time.
 */
export async function finalizeBatch(
  db: Db,
  batchId: string,
  onChain: { txHash: string; blockNumber: bigint; gasUsed: bigint | null },
): Promise<"settled" | "already"> {
  return db.transaction(async (txn) => {
    const tx: Db = txn;
    const [b] = await tx.select().from(settlementBatches).where(eq(settlementBatches.id, batchId)).for("update");
    if (!b) throw new Error(`no settlement batch ${batchId}`);
    if (b.status === "settled") return "already";
    const pico = batchPico({
      payouts: b.payouts.map((p) => ({ ...p, address: p.address as Hex, amountBase: BigInt(p.amountBase) })),
      feeBase: b.feeBase,
    });
    await writeTransactions(tx, [settlementTransaction({ batchId, providers: pico.providers, feePico: pico.feePico })]);
    await tx
      .update(settlementBatches)
      .set({
        status: "settled",
        txHash: onChain.txHash,
        blockNumber: onChain.blockNumber,
        gasUsed: onChain.gasUsed,
        rawTx: null,
        settledAt: sql`now()`,
      })
      .where(eq(settlementBatches.id, batchId));
    const [left] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(settlementBatches)
      .where(and(eq(settlementBatches.periodId, b.periodId), ne(settlementBatches.status, "settled")));
    if (left!.n === 0)
      await tx.update(settlementPeriods).set({ status: "settled", settledAt: sql`now()` }).where(eq(settlementPeriods.id, b.periodId));
    return "settled";
  });
}

/** A receipt with its period and the period's batches: what a proof needs. */
export async function receiptInPeriod(db: Db, requestId: string): Promise<ReceiptInPeriod | null> {
  const [r] = await db.select().from(receipts).where(eq(receipts.requestId, requestId));
  if (!r || r.periodId === null) return r ? { receipt: r, period: null, digests: [], batches: [] } : null;
  const [period] = await db.select().from(settlementPeriods).where(eq(settlementPeriods.id, r.periodId));
  const digests = (await db.select({ digest: receipts.digest }).from(receipts).where(eq(receipts.periodId, r.periodId))).map(
    (x) => x.digest as Hex,
  );
  const batches = await db
    .select()
    .from(settlementBatches)
    .where(eq(settlementBatches.periodId, r.periodId))
    .orderBy(asc(settlementBatches.part));
  return { receipt: r, period: period ?? null, digests, batches };
}

/** Settled batches, for the ledger audit: what each one paid. */
export async function settledBatches(db: Db) {
  return db.select().from(settlementBatches).where(eq(settlementBatches.status, "settled"));
}

export function recentBatches(db: Db, limit = 50) {
  return db.select().from(settlementBatches).orderBy(sql`${settlementBatches.createdAt} desc`).limit(limit);
}
