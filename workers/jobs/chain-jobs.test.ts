import { describe, expect, it } from "vitest";
import type { ChainConfig } from "../config";
import { ApiError } from "../core/openai/errors";
import { ChainRpcError, ChainUnavailableError } from "../core/settlement/errors";
import type { ChainReader, ChainSyncStore, Deps, Guard, Operator, Routes, SettlementStore } from "../ports";
import { chainSyncJob, settlementJob } from "./chain-jobs";

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

/** A chain whose every read fails with `failure` (as the adapter classifies it), over stores with nothing to do. */
function deps(failure: Error) {
  const fail = async (): Promise<never> => {
    throw failure;
  };
  const chain: ChainReader = {
    head: fail,
    blockHash: fail,
    fundEvents: fail,
    stakeOf: fail,
    escrow: fail,
    isSettled: fail,
    settledBy: fail,
    receipt: fail,
    knows: fail,
    nonce: fail,
  };
  const syncStore: ChainSyncStore = {
    readCursor: async () => null,
    bookFundEvents: async () => ({ booked: [], unmatched: 0 }),
    providersWithAddress: async () => [],
    recordStakes: async () => {},
  };
  const settlementStore: SettlementStore = {
    openPeriod: async () => null,
    createPeriod: async () => null,
    markSending: async () => true,
    markRetryable: async () => {},
    noteError: async () => {},
    finalizeBatch: async () => "settled",
    withdrawalsToLimit: async () => [],
    markWithdrawalLimited: async () => {},
  };
  const guard: Guard = { admit: fail, settle: () => {}, credit: async () => {} };
  const routes: Routes = { table: fail, invalidate: () => {}, reload: fail };
  return {
    cfg: { chain: config } as Deps["cfg"],
    chainJobs: { chain, syncStore, settlementStore },
    guard,
    routes,
    now: () => 0,
  };
}
const operator: Operator = {
  address: "0x00000000000000000000000000000000000000cc",
  signSettle: async () => {
    throw new Error("not reached");
  },
  limitWithdrawal: async () => ({ hash: "0x00", ok: true }),
  broadcast: async () => "sent",
};

async function apiErrorOf(run: Promise<unknown>): Promise<ApiError> {
  const err = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

const unreachable = () =>
  new ChainUnavailableError("The chain's RPC could not be reached (HTTP request failed: fetch failed: ECONNREFUSED).");
const answered = () => new ChainRpcError("The chain's RPC answered an error (Internal JSON-RPC error).");

describe("the chain jobs' answers when the chain fails", () => {
  it("the chain sync answers 503 chain_unavailable, retryable and naming the failure, when the node cannot be reached", async () => {
    const e = await apiErrorOf(chainSyncJob(deps(unreachable())));
    expect({ status: e.status, code: e.code, type: e.type }).toEqual({ status: 503, code: "chain_unavailable", type: "server_error" });
    expect(e.headers["x-should-retry"]).toBeUndefined();
    expect(e.message).toContain("ECONNREFUSED");
  });

  it("settlement answers 503 chain_unavailable when the node cannot be reached", async () => {
    const e = await apiErrorOf(settlementJob(deps(unreachable()), operator));
    expect({ status: e.status, code: e.code }).toEqual({ status: 503, code: "chain_unavailable" });
    expect(e.message).toMatch(/^Settlement could not reach the chain: .*ECONNREFUSED/);
  });

  it("both answer 502 chain_error when the node answered with an error", async () => {
    const sync = await apiErrorOf(chainSyncJob(deps(answered())));
    const settle = await apiErrorOf(settlementJob(deps(answered()), operator));
    for (const e of [sync, settle]) {
      expect({ status: e.status, code: e.code }).toEqual({ status: 502, code: "chain_error" });
      expect(e.message).toContain("Internal JSON-RPC error");
    }
  });

  it("settlement answers 503 when the operator's broadcast cannot reach the node", async () => {
    const d = deps(unreachable());
    d.chainJobs.settlementStore.withdrawalsToLimit = async () => [
      { chainId: 7, txHash: "0x01", logIndex: 0, account: `0x${"ab".repeat(32)}`, heldBase: 1n },
    ];
    const e = await apiErrorOf(
      settlementJob(d, {
        ...operator,
        limitWithdrawal: async () => {
          throw unreachable();
        },
      }),
    );
    expect({ status: e.status, code: e.code }).toEqual({ status: 503, code: "chain_unavailable" });
  });

  it("leaves any other failure as it was (a 500 with its cause logged)", async () => {
    const bug = new TypeError("a bug");
    await expect(chainSyncJob(deps(bug))).rejects.toBe(bug);
    await expect(settlementJob(deps(bug), operator)).rejects.toBe(bug);
  });
});
