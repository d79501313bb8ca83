/** The ledger in Postgres: postings written once per (kind, reference, account); balances are sums. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { creditGrants, deposits, ledgerEntries, settlementBatches, usageEvents, withdrawals } from "../../../db/schema";
import { checkBooks, customerAccount, grantTransaction, type LedgerTransaction } from "../../core/money/ledger";
import { traceProblems } from "../../core/money/ledger-audit";
import { baseToPico } from "../../core/settlement/units";
import { rowsOf } from "./json-rows";

/** Writes the postings of these transactions; a posting already written is left as it was. */
export async function writeTransactions(db: Db, txs: readonly LedgerTransaction[]): Promise<void> {
  const rows = txs.flatMap((t) =>
    t.postings.map((p) => ({ kind: t.kind, reference: t.reference, account: p.account, amountPico: p.amountPico })),
  );
  // Bounded statements: a flush of 256 usage events is at most 768 postings.
  for (let i = 0; i < rows.length; i += 500) {
    const { columns, select } = rowsOf(ledgerEntries, rows.slice(i, i + 500), ["kind", "reference", "account", "amountPico"]);
    await db.execute(sql`insert into ${ledgerEntries} ${columns} ${select} on conflict do nothing`);
  }
}

/** The id of a transaction's posting on the customer: the account's guard adds a change only if its last load did not see it. */
export async function customerEntryId(db: Db, kind: LedgerTransaction["kind"], reference: string, accountId: string): Promise<number> {
  const [row] = await db
    .select({ id: ledgerEntries.id })
    .from(ledgerEntries)
    .where(
      and(eq(ledgerEntries.kind, kind), eq(ledgerEntries.reference, reference), eq(ledgerEntries.account, customerAccount(accountId))),
    );
  if (!row) throw new Error(`no ${kind} posting ${reference} on customer ${accountId}`);
  return row.id;
}

/** Balances of these ledger accounts (0n for one with no postings). */
export async function balancesOf(db: Db, accounts: readonly string[]): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>(accounts.map((a) => [a, 0n]));
  if (accounts.length === 0) return out;
  const rows = await db
    .select({ account: ledgerEntries.account, total: sql<string>`sum(${ledgerEntries.amountPico})::text` })
    .from(ledgerEntries)
    .where(inArray(ledgerEntries.account, [...accounts]))
    .groupBy(ledgerEntries.account);
  for (const r of rows) out.set(r.account, BigInt(r.total));
  return out;
}

/** An operator's credit grant: the grant row and its balanced postings commit together. */
export async function grantCredit(
  db: Db,
  accountId: string,
  amountPico: bigint,
  note: string | null,
): Promise<{ id: string; balancePico: bigint; entryId: number }> {
  return db.transaction(async (tx) => {
    const [grant] = await tx.insert(creditGrants).values({ accountId, amountPico, note }).returning({ id: creditGrants.id });
    await writeTransactions(tx, [grantTransaction({ grantId: grant!.id, accountId, amountPico })]);
    const entryId = await customerEntryId(tx, "grant", grant!.id, accountId);
    const balance = (await balancesOf(tx, [customerAccount(accountId)])).get(customerAccount(accountId))!;
    // The customer posting's id: the account's guard adds the grant only if its last load did not see it.
    return { id: grant!.id, balancePico: balance, entryId };
  });
}

/** Every posting of one ledger account, newest first (admin and dashboards). */
export function postingsOf(db: Db, account: string, limit = 100) {
  return db.select().from(ledgerEntries).where(eq(ledgerEntries.account, account)).orderBy(sql`${ledgerEntries.id} desc`).limit(limit);
}

export interface LedgerAudit {
  transactions: number;
  postings: number;
  /** Balance per class of ledger account: customer, provider, protocol, external. */
  totals: Record<string, bigint>;
  problems: string[];
}

/**
 * The whole-ledger check behind `npm run ledger:check`: the books balance and every posting traces
 * to its record. Reads every row, so it is an operator's tool, not a request-path query.
 */
export async function auditLedger(db: Db): Promise<LedgerAudit> {
  const [entries, usage, grants, credited, held, settled] = await Promise.all([
    db.select().from(ledgerEntries).orderBy(ledgerEntries.id),
    db
      .select({
        requestId: usageEvents.requestId,
        accountId: usageEvents.accountId,
        providerId: usageEvents.providerId,
        costPico: usageEvents.costPico,
        feePico: usageEvents.feePico,
      })
      .from(usageEvents),
    db.select().from(creditGrants),
    db.select().from(deposits).where(eq(deposits.status, "credited")),
    db.select().from(withdrawals),
    db.select().from(settlementBatches).where(eq(settlementBatches.status, "settled")),
  ]);
  const txs = new Map<string, LedgerTransaction>();
  const totals: Record<string, bigint> = {};
  for (const e of entries) {
    const id = `${e.kind}\u0000${e.reference}`;
    const t = txs.get(id) ?? { kind: e.kind, reference: e.reference, postings: [] };
    t.postings.push({ account: e.account, amountPico: e.amountPico });
    txs.set(id, t);
    const cls = e.account.split(":")[0]!;
    totals[cls] = (totals[cls] ?? 0n) + e.amountPico;
  }
  const sources = {
    usage: new Map(usage.map((u) => [u.requestId, u])),
    grants: new Map(grants.map((g) => [g.id, { accountId: g.accountId, amountPico: g.amountPico }])),
    deposits: new Map(
      credited.map((d) => [`${d.chainId}:${d.txHash}:${d.logIndex}`, { accountId: d.accountId!, amountPico: baseToPico(d.amountBase) }]),
    ),
    withdrawals: new Map(
      held
        .filter((w) => w.accountId && w.heldBase > 0n)
        .map((w) => [`${w.chainId}:${w.txHash}:${w.logIndex}`, { accountId: w.accountId!, amountPico: baseToPico(w.heldBase) }]),
    ),
    withdrawalCloses: new Map(
      held
        .filter((w) => w.accountId && w.closedBy && w.heldBase !== (w.paidBase ?? 0n))
        .map((w) => [
          w.closedBy!,
          {
            accountId: w.accountId!,
            releasedPico: baseToPico(w.heldBase - (w.paidBase ?? 0n)),
          },
        ]),
    ),
    settlements: new Map(
      settled.map((b) => [
        b.id,
        {
          providers: b.payouts.map((p) => ({ providerId: p.providerId, pico: baseToPico(BigInt(p.amountBase)) })),
          feePico: baseToPico(b.feeBase),
        },
      ]),
    ),
  };
  const all = [...txs.values()];
  return { transactions: all.length, postings: entries.length, totals, problems: [...checkBooks(all), ...traceProblems(all, sources)] };
}
