/**
 * The chain-sync job (cron, and POST /admin/v1/jobs/deposits/run): books the Settlement contract's
 * deposits and withdrawal requests once they have the configured confirmations, and refreshes each
 * provider's stake for routing. Only confirmed blocks are read, so a reorg inside the confirmation
 * window never reaches the ledger; one deeper than it stops the job with an error for an operator.
 */
import type { ChainConfig } from "../config";
import type { Booked } from "../core/settlement/chain-events";
import { DeepReorgError } from "../core/settlement/errors";
import type { ChainSyncResult } from "../core/settlement/runs";
import type { ChainReader, ChainSyncStore } from "../ports";

/** Blocks per log query: public RPCs cap eth_getLogs ranges. */
const RANGE = 2_000n;

export const cursorName = (c: ChainConfig) => `settlement-events:${c.chainId}:${c.settlement.toLowerCase()}`;

export async function runChainSync(p: {
  store: ChainSyncStore;
  chain: ChainReader;
  config: ChainConfig;
  /** Tells each account's guard about a booked change (the Durable Object in workerd). */
  onBooked?: (b: Booked) => Promise<void>;
}): Promise<ChainSyncResult> {
  const { store, chain, config } = p;
  const name = cursorName(config);
  const head = await chain.head();
  const lastConfirmed = head - BigInt(config.confirmations - 1);
  const cursor = await store.readCursor(name);
  const start = cursor?.nextBlock ?? config.startBlock;
  if (cursor?.lastBlockHash && start > 0n && start - 1n <= head) {
    const now = await chain.blockHash(start - 1n);
    if (now.toLowerCase() !== cursor.lastBlockHash.toLowerCase()) {
      throw new DeepReorgError(
        `block ${start - 1n} changed after it was booked (was ${cursor.lastBlockHash}, now ${now}): a reorg deeper than ${config.confirmations} confirmations; raise CHAIN_CONFIRMATIONS and reconcile deposits by hand`,
      );
    }
  }
  let deposits = 0,
    withdrawals = 0,
    released = 0,
    unmatched = 0;
  for (let from = start; from <= lastConfirmed; from += RANGE) {
    const to = from + RANGE - 1n < lastConfirmed ? from + RANGE - 1n : lastConfirmed;
    const events = await chain.fundEvents(from, to);
    const booked = await store.bookFundEvents({
      chainId: config.chainId,
      cursor: name,
      nextBlock: to + 1n,
      lastBlockHash: await chain.blockHash(to),
      ...events,
    });
    for (const b of booked.booked) await p.onBooked?.(b);
    deposits += booked.booked.filter((b) => b.kind === "deposit").length;
    withdrawals += booked.booked.filter((b) => b.kind === "withdrawal").length;
    released += booked.booked.filter((b) => b.kind === "release").length;
    unmatched += booked.unmatched;
  }
  const stakes = await refreshStakes(store, chain);
  return {
    head: head.toString(),
    range: start <= lastConfirmed ? { from: start.toString(), to: lastConfirmed.toString() } : null,
    deposits,
    withdrawals,
    released,
    unmatched,
    stakes: stakes.map((s) => ({ providerId: s.providerId, stakeBase: s.stakeBase.toString() })),
  };
}

/** Every registered provider's active stake, read from the contract and cached in Postgres for routing. */
async function refreshStakes(store: ChainSyncStore, chain: ChainReader) {
  const list = await store.providersWithAddress();
  const stakes = await Promise.all(list.map(async (pr) => ({ providerId: pr.id, stakeBase: await chain.stakeOf(pr.address) })));
  await store.recordStakes(stakes);
  return stakes;
}
