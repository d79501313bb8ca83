/**
 * What the chain-sync job writes: deposits credited once (the key is chain, tx, log), withdrawal
 * holds, the event cursor, and each provider's stake. Events and the cursor move in one database
 * transaction, so a crash re-reads a range and the keys make the repeat a no-op.
 */
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Address } from "viem";
import type { Db, WithDb } from "../../../db/client";
import { accounts, chainCursors, deposits, providers, withdrawals } from "../../../db/schema";
import { customerAccount, depositTransaction, withdrawalCloseTransaction, withdrawalTransaction } from "../../core/money/ledger";
import { baseToPico, bytes32ToAccount, picoToBase } from "../../core/settlement/units";
import type { Booked, DepositEvent, WithdrawalClose, WithdrawalEvent } from "../../core/settlement/chain-events";
import type { ChainSyncStore } from "../../ports";
import { balancesOf, customerEntryId, writeTransactions } from "./ledger";

/** The ChainSyncStore port: each call one database session; a booked range and its cursor are one transaction. */
export function pgChainSyncStore(withDb: WithDb): ChainSyncStore {
  return {
    readCursor: (name) => withDb((db) => readCursor(db, name)),
    bookFundEvents: (a) => withDb((db) => bookFundEvents(db, a)),
    providersWithAddress: () =>
      withDb(async (db) =>
        (await providersWithAddress(db)).flatMap((p) => (p.address ? [{ id: p.id, address: p.address as Address }] : [])),
      ),
    recordStakes: (stakes) => withDb((db) => recordStakes(db, stakes)),
  };
}

export async function readCursor(db: Db, name: string): Promise<{ nextBlock: bigint; lastBlockHash: string | null } | null> {
  const [row] = await db.select().from(chainCursors).where(eq(chainCursors.name, name));
  return row ? { nextBlock: row.nextBlock, lastBlockHash: row.lastBlockHash } : null;
}

export const fundsReference = (chainId: number, txHash: string, logIndex: number) => `${chainId}:${txHash.toLowerCase()}:${logIndex}`;

type FundEvent = ({ type: "deposit" } & DepositEvent) | ({ type: "withdrawal" } & WithdrawalEvent) | ({ type: "close" } & WithdrawalClose);

/**
 * Books a confirmed range of events, in chain order, and advances the cursor past it. Returns the
 * ledger changes made now (not those booked by an earlier run), for the accounts' guards.
 */
export async function bookFundEvents(
  db: Db,
  a: {
    chainId: number;
    cursor: string;
    nextBlock: bigint;
    lastBlockHash: string;
    deposits: DepositEvent[];
    withdrawals: WithdrawalEvent[];
    closes?: WithdrawalClose[];
  },
): Promise<{ booked: Booked[]; unmatched: number }> {
  const events: FundEvent[] = [
    ...a.deposits.map((e) => ({ type: "deposit" as const, ...e })),
    ...a.withdrawals.map((e) => ({ type: "withdrawal" as const, ...e })),
    ...(a.closes ?? []).map((e) => ({ type: "close" as const, ...e })),
  ].sort((x, y) => (x.blockNumber === y.blockNumber ? x.logIndex - y.logIndex : x.blockNumber < y.blockNumber ? -1 : 1));
  return db.transaction(async (txn) => {
    const tx: Db = txn;
    const named = events.map((e) => bytes32ToAccount(e.account)).filter((x): x is string => x !== null);
    const known = new Set(
      named.length ? (await tx.select({ id: accounts.id }).from(accounts).where(inArray(accounts.id, named))).map((r) => r.id) : [],
    );
    const ours = (bytes32: string) => {
      const id = bytes32ToAccount(bytes32);
      return id && known.has(id) ? id : null;
    };
    const booked: Booked[] = [];
    let unmatched = 0;
    for (const e of events) {
      const accountId = ours(e.account);
      const reference = fundsReference(a.chainId, e.txHash, e.logIndex);
      const key = { chainId: a.chainId, txHash: e.txHash.toLowerCase(), logIndex: e.logIndex };
      if (e.type === "deposit") {
        const inserted = await tx
          .insert(deposits)
          .values({
            ...key,
            blockNumber: e.blockNumber,
            blockHash: e.blockHash,
            account: e.account,
            accountId,
            fromAddress: e.from,
            amountBase: e.amountBase,
            status: accountId ? "credited" : "unmatched",
          })
          .onConflictDoNothing()
          .returning({ txHash: deposits.txHash });
        if (inserted.length === 0) continue; // booked by an earlier run
        if (!accountId) {
          unmatched++;
          continue;
        }
        const amountPico = baseToPico(e.amountBase);
        await writeTransactions(tx, [depositTransaction({ reference, accountId, amountPico })]);
        booked.push({ kind: "deposit", accountId, amountPico, entryId: await customerEntryId(tx, "deposit", reference, accountId) });
      } else if (e.type === "withdrawal") {
        // Hold what is still unspent, up to the request; the operator limits the on-chain amount to the hold.
        const balance = accountId ? (await balancesOf(tx, [customerAccount(accountId)])).get(customerAccount(accountId))! : 0n;
        const unspentBase = picoToBase(balance).base;
        const heldBase = e.amountBase < unspentBase ? e.amountBase : unspentBase;
        const inserted = await tx
          .insert(withdrawals)
          .values({
            ...key,
            account: e.account,
            accountId,
            owner: e.owner,
            requestedBase: e.amountBase,
            heldBase,
            availableAt: new Date(Number(e.availableAt) * 1000),
            status: heldBase === e.amountBase ? "limited" : "held",
          })
          .onConflictDoNothing()
          .returning({ txHash: withdrawals.txHash });
        if (inserted.length === 0 || !accountId || heldBase === 0n) continue;
        await writeTransactions(tx, [withdrawalTransaction({ reference, accountId, amountPico: baseToPico(heldBase) })]);
        booked.push({
          kind: "withdrawal",
          accountId,
          amountPico: -baseToPico(heldBase),
          entryId: await customerEntryId(tx, "withdrawal", reference, accountId),
        });
      } else {
        const closed = await closeWithdrawal(tx, a.chainId, e, reference);
        if (closed) booked.push(closed);
      }
    }
    await tx
      .insert(chainCursors)
      .values({ name: a.cursor, nextBlock: a.nextBlock, lastBlockHash: a.lastBlockHash })
      .onConflictDoUpdate({
        target: chainCursors.name,
        set: { nextBlock: a.nextBlock, lastBlockHash: a.lastBlockHash, updatedAt: sql`now()` },
      });
    return { booked, unmatched };
  });
}

/** The account's open withdrawal ends: held − paid goes back to the customer (or, if negative, is charged). */
async function closeWithdrawal(tx: Db, chainId: number, e: WithdrawalClose, reference: string): Promise<Booked | null> {
  const [open] = await tx
    .select()
    .from(withdrawals)
    .where(and(eq(withdrawals.chainId, chainId), eq(withdrawals.account, e.account), inArray(withdrawals.status, ["held", "limited"])))
    .orderBy(sql`${withdrawals.createdAt} desc`)
    .limit(1)
    .for("update");
  if (!open) return null; // requested before this database started reading, or already closed by an earlier run
  await tx
    .update(withdrawals)
    .set({ status: e.kind, closedBy: reference, paidBase: e.paidBase })
    .where(and(eq(withdrawals.chainId, open.chainId), eq(withdrawals.txHash, open.txHash), eq(withdrawals.logIndex, open.logIndex)));
  const releasedPico = baseToPico(open.heldBase - e.paidBase);
  if (!open.accountId || releasedPico === 0n) return null;
  await writeTransactions(tx, [withdrawalCloseTransaction({ reference, accountId: open.accountId, releasedPico })]);
  return {
    kind: "release",
    accountId: open.accountId,
    amountPico: releasedPico,
    entryId: await customerEntryId(tx, "withdrawal", reference, open.accountId),
  };
}

/** Withdrawals whose on-chain amount is above what the ledger held: the operator must limit them. */
export function withdrawalsToLimit(db: Db) {
  return db
    .select()
    .from(withdrawals)
    .where(and(eq(withdrawals.status, "held"), sql`${withdrawals.availableAt} > now()`));
}

export async function markWithdrawalLimited(
  db: Db,
  w: { chainId: number; txHash: string; logIndex: number },
  limitTxHash: string,
): Promise<void> {
  await db
    .update(withdrawals)
    .set({ status: "limited", limitTxHash })
    .where(and(eq(withdrawals.chainId, w.chainId), eq(withdrawals.txHash, w.txHash), eq(withdrawals.logIndex, w.logIndex)));
}

export function providersWithAddress(db: Db) {
  return db.select({ id: providers.id, address: providers.address }).from(providers).where(isNotNull(providers.address));
}

export async function recordStakes(db: Db, stakes: { providerId: string; stakeBase: bigint }[]): Promise<void> {
  for (const s of stakes) {
    await db
      .update(providers)
      .set({ stakeBase: s.stakeBase, stakeCheckedAt: sql`now()`, updatedAt: sql`now()` })
      .where(eq(providers.id, s.providerId));
  }
}

/** Deposits of one account, newest first (admin and finance views). */
export function depositsOf(db: Db, accountId: string, limit = 100) {
  return db.select().from(deposits).where(eq(deposits.accountId, accountId)).orderBy(sql`${deposits.blockNumber} desc`).limit(limit);
}
