/**
 * The chain-sync job (cron, and POST /admin/v1/jobs/deposits/run): books the Settlement contract's
 * deposits and withdrawal requests once they have the configured confirmations, and refreshes each
 * provider's stake for routing. Only confirmed blocks are read, so a reorg inside the confirmation
 * window never reaches the ledger; one deeper than it stops the job with an error for an operator.
 */
import type { Address } from "viem";
import type { Db } from "../../db/client";
import type { ChainConfig } from "../chain-config";
import type { ChainReader } from "../adapters/chain/reader";
import { bookFundEvents, providersWithAddress, readCursor, recordStakes, type Booked } from "../adapters/postgres/chain-sync";

/** Blocks per log query: public RPCs cap eth_getLogs ranges. */
const RANGE = 2_000n;

export class DeepReorgError extends Error {}

export interface ChainSyncResult {
  head: string;
  /** The confirmed range read this run ([from, to]); null when nothing new was confirmed. */
  range: { from: string; to: string } | null;
  deposits: number;
  withdrawals: number;
  /** Closed withdrawals whose hold (or part of it) went back to the customer. */
  released: number;
  unmatched: number;
  stakes: { providerId: string; stakeBase: string }[];
}

export const cursorName = (c: ChainConfig) => `settlement-events:${c.chainId}:${c.settlement.toLowerCase()}`;

export async function runChainSync(p: {
  db: Db; chain: ChainReader; config: ChainConfig;
  /** Tells each account's guard about a booked change (the Durable Object in workerd). */
  onBooked?: (b: Booked) => Promise<void>;
}): Promise<ChainSyncResult> {
  const { db, chain, config } = p;
  const name = cursorName(config);
  const head = await chain.head();
  const lastConfirmed = head - BigInt(config.confirmations - 1);
  const cursor = await readCursor(db, name);
  const start = cursor?.nextBlock ?? config.startBlock;
  if (cursor?.lastBlockHash && start > 0n && start - 1n <= head) {
    const now = await chain.blockHash(start - 1n);
    if (now.toLowerCase() !== cursor.lastBlockHash.toLowerCase()) {
      throw new DeepReorgError(`block ${start - 1n} changed after it was booked (was ${cursor.lastBlockHash}, now ${now}): a reorg deeper than ${config.confirmations} confirmations; raise CHAIN_CONFIRMATIONS and reconcile deposits by hand`);
    }
  }
  let deposits = 0, withdrawals = 0, released = 0, unmatched = 0;
  for (let from = start; from <= lastConfirmed; from += RANGE) {
    const to = from + RANGE - 1n < lastConfirmed ? from + RANGE - 1n : lastConfirmed;
    const events = await chain.fundEvents(from, to);
    const booked = await bookFundEvents(db, {
      chainId: config.chainId, cursor: name, nextBlock: to + 1n, lastBlockHash: await chain.blockHash(to), ...events,
    });
    for (const b of booked.booked) await p.onBooked?.(b);
    deposits += booked.booked.filter((b) => b.kind === "deposit").length;
    withdrawals += booked.booked.filter((b) => b.kind === "withdrawal").length;
    released += booked.booked.filter((b) => b.kind === "release").length;
    unmatched += booked.unmatched;
  }
  const stakes = await refreshStakes(db, chain);
  return {
    head: head.toString(), range: start <= lastConfirmed ? { from: start.toString(), to: lastConfirmed.toString() } : null,
    deposits, withdrawals, released, unmatched, stakes: stakes.map((s) => ({ providerId: s.providerId, stakeBase: s.stakeBase.toString() })),
  };
}

/** Every registered provider's active stake, read from the contract and cached in Postgres for routing. */
async function refreshStakes(db: Db, chain: ChainReader) {
  const list = await providersWithAddress(db);
  const stakes = await Promise.all(list.map(async (pr) => ({ providerId: pr.id, stakeBase: await chain.stakeOf(pr.address as Address) })));
  await recordStakes(db, stakes);
  return stakes;
}
