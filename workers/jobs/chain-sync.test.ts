import { describe, expect, it } from "vitest";
import type { ChainConfig } from "../config";
import type { Booked, FundEvents } from "../core/settlement/chain-events";
import { DeepReorgError } from "../core/settlement/errors";
import type { ChainReader, ChainSyncStore } from "../ports";
import { cursorName, runChainSync } from "./chain-sync";

const config: ChainConfig = {
  rpcUrl: "http://chain.invalid",
  chainId: 7,
  settlement: "0x00000000000000000000000000000000000000aa",
  usdc: "0x00000000000000000000000000000000000000bb",
  confirmations: 3,
  startBlock: 100n,
  minStakeBase: 0n,
  maxPayoutsPerBatch: 10,
  settlementWaitMs: 0,
};
const hashOf = (n: bigint, branch = "a") => `0x${branch}${n.toString(16).padStart(63, "0")}` as const;
const noEvents = (): FundEvents => ({ deposits: [], withdrawals: [], closes: [] });

/** A chain at `head` whose blocks hash by branch, and a store that books every call it gets. */
function fakes(o: { head: bigint; branch?: string; cursor?: { nextBlock: bigint; lastBlockHash: string | null }; booked?: Booked[] }) {
  const reads: [bigint, bigint][] = [];
  const books: Parameters<ChainSyncStore["bookFundEvents"]>[0][] = [];
  const stakes: { providerId: string; stakeBase: bigint }[][] = [];
  const unused = () => {
    throw new Error("the chain sync does not read this");
  };
  const chain: ChainReader = {
    head: async () => o.head,
    blockHash: async (n) => hashOf(n, o.branch),
    fundEvents: async (from, to) => {
      reads.push([from, to]);
      return noEvents();
    },
    stakeOf: async (a) => (a.endsWith("1") ? 150_000_000n : 0n),
    escrow: unused,
    isSettled: unused,
    settledBy: unused,
    receipt: unused,
    knows: unused,
    nonce: unused,
  };
  const store: ChainSyncStore = {
    readCursor: async () => o.cursor ?? null,
    bookFundEvents: async (a) => {
      books.push(a);
      return { booked: books.length === 1 ? (o.booked ?? []) : [], unmatched: 0 };
    },
    providersWithAddress: async () => [
      { id: "p1", address: "0x0000000000000000000000000000000000000001" },
      { id: "p2", address: "0x0000000000000000000000000000000000000002" },
    ],
    recordStakes: async (s) => {
      stakes.push(s);
    },
  };
  return { chain, store, reads, books, stakes };
}

describe("runChainSync", () => {
  it("reads only blocks with enough confirmations, from the start block on a fresh database, and moves the cursor past them", async () => {
    const f = fakes({ head: 110n });
    const r = await runChainSync({ store: f.store, chain: f.chain, config });
    expect(f.reads).toEqual([[100n, 108n]]); // 108 has 3 confirmations at head 110
    expect(f.books).toMatchObject([{ chainId: 7, cursor: cursorName(config), nextBlock: 109n, lastBlockHash: hashOf(108n) }]);
    expect(r.range).toEqual({ from: "100", to: "108" });
  });

  it("splits a long confirmed range into log queries of at most 2,000 blocks", async () => {
    const f = fakes({ head: 4_601n, cursor: { nextBlock: 100n, lastBlockHash: hashOf(99n) } });
    await runChainSync({ store: f.store, chain: f.chain, config });
    expect(f.reads).toEqual([
      [100n, 2_099n],
      [2_100n, 4_099n],
      [4_100n, 4_599n],
    ]);
    expect(f.books.map((b) => b.nextBlock)).toEqual([2_100n, 4_100n, 4_600n]);
  });

  it("reads nothing when no new block is confirmed, but still refreshes every provider's stake", async () => {
    const f = fakes({ head: 110n, cursor: { nextBlock: 109n, lastBlockHash: hashOf(108n) } });
    const r = await runChainSync({ store: f.store, chain: f.chain, config });
    expect(r.range).toBeNull();
    expect(f.books).toEqual([]);
    expect(f.stakes).toEqual([
      [
        { providerId: "p1", stakeBase: 150_000_000n },
        { providerId: "p2", stakeBase: 0n },
      ],
    ]);
    expect(r.stakes).toEqual([
      { providerId: "p1", stakeBase: "150000000" },
      { providerId: "p2", stakeBase: "0" },
    ]);
  });

  it("tells the guard of each booking and counts them by kind", async () => {
    const booked: Booked[] = [
      { kind: "deposit", accountId: "a", amountPico: 5n, entryId: 1 },
      { kind: "withdrawal", accountId: "a", amountPico: -2n, entryId: 2 },
      { kind: "release", accountId: "b", amountPico: 1n, entryId: 3 },
    ];
    const f = fakes({ head: 110n, booked });
    const told: Booked[] = [];
    const r = await runChainSync({
      store: f.store,
      chain: f.chain,
      config,
      onBooked: async (b) => {
        told.push(b);
      },
    });
    expect(told).toEqual(booked);
    expect(r).toMatchObject({ deposits: 1, withdrawals: 1, released: 1, unmatched: 0 });
  });

  it("stops, booking nothing, when the last booked block's hash has changed (a reorg deeper than the confirmations)", async () => {
    const f = fakes({ head: 200n, branch: "b", cursor: { nextBlock: 150n, lastBlockHash: hashOf(149n, "a") } });
    await expect(runChainSync({ store: f.store, chain: f.chain, config })).rejects.toBeInstanceOf(DeepReorgError);
    expect(f.books).toEqual([]);
  });
});
