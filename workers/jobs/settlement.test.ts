import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { SettlementBatchRow } from "../../db/schema";
import type { ChainConfig } from "../config";
import type { MinedTx, SignedTx } from "../core/settlement/chain-events";
import { WouldRevertError } from "../core/settlement/errors";
import type { ChainReader, OpenPeriod, Operator, SettlementStore } from "../ports";
import { type CrashPoint, runSettlement } from "./settlement";

const config: ChainConfig = {
  rpcUrl: "http://chain.invalid",
  chainId: 7,
  settlement: "0x00000000000000000000000000000000000000aa",
  usdc: "0x00000000000000000000000000000000000000bb",
  confirmations: 2,
  startBlock: 0n,
  minStakeBase: 0n,
  maxPayoutsPerBatch: 10,
  settlementWaitMs: 10_000,
};
const BATCH = `0x${"b1".repeat(32)}` as Hex;
const TX = `0x${"7a".repeat(32)}` as Hex;

function batch(over: Partial<SettlementBatchRow> = {}): SettlementBatchRow {
  return {
    id: BATCH,
    periodId: 1,
    part: 0,
    payouts: [{ providerId: "p1", address: "0x0000000000000000000000000000000000000001", amountBase: "5000000" }],
    feeBase: 250_000n,
    totalBase: 5_250_000n,
    status: "recorded",
    nonce: null,
    txHash: null,
    rawTx: null,
    blockNumber: null,
    gasUsed: null,
    attempts: 0,
    lastError: null,
    createdAt: new Date(0),
    settledAt: null,
    ...over,
  };
}
const periodWith = (b: SettlementBatchRow): OpenPeriod => ({
  period: {
    id: 1,
    chainId: 7,
    cutoff: new Date(0),
    merkleRoot: `0x${"00".repeat(32)}`,
    receiptCount: 3,
    status: "open",
    createdAt: new Date(0),
    settledAt: null,
  },
  batches: [b],
});

/** A chain that mines what is broadcast in its next block, and a store that records each write by name. */
function fakes(o: {
  open?: OpenPeriod | null;
  created?: OpenPeriod | null;
  broadcast?: "sent" | "nonce_spent";
  signError?: Error;
  mined?: MinedTx["status"];
}) {
  const calls: string[] = [];
  let head = 50n;
  let receipt: MinedTx | null = null;
  const store: SettlementStore = {
    openPeriod: async () => o.open ?? null,
    createPeriod: async () => (o.created ? { open: o.created, plan: { batches: [], carried: [], feeCarriedPico: 0n } } : null),
    markSending: async (_id, s) => {
      calls.push(`markSending ${s.nonce}`);
      return true;
    },
    markRetryable: async (_id, error) => {
      calls.push(`markRetryable ${error.split(" ")[0]}`);
    },
    noteError: async (_id, error) => {
      calls.push(`noteError ${error.split(":")[0]}`);
    },
    finalizeBatch: async (_id, onChain) => {
      calls.push(`finalizeBatch ${onChain.blockNumber}`);
      return "settled";
    },
    withdrawalsToLimit: async () => [],
    markWithdrawalLimited: async () => {
      calls.push("markWithdrawalLimited");
    },
  };
  const chain: ChainReader = {
    head: async () => head,
    blockHash: async () => TX,
    fundEvents: async () => ({ deposits: [], withdrawals: [], closes: [] }),
    stakeOf: async () => 0n,
    escrow: async () => 10n ** 12n,
    isSettled: async () => false,
    settledBy: async () => null,
    receipt: async () => receipt,
    knows: async () => receipt !== null,
    nonce: async (_address, blockTag) => (blockTag === "pending" ? 4 : 3),
  };
  const operator: Operator = {
    address: "0x00000000000000000000000000000000000000cc",
    signSettle: async (_call, nonce): Promise<SignedTx> => {
      if (o.signError) throw o.signError;
      return { nonce, hash: TX, raw: "0xf00d" };
    },
    limitWithdrawal: async () => ({ hash: TX, ok: true }),
    broadcast: async () => {
      calls.push("broadcast");
      if (o.broadcast !== "nonce_spent") receipt = { status: o.mined ?? "success", blockNumber: head + 1n, gasUsed: 90_000n };
      return o.broadcast ?? "sent";
    },
  };
  const checkpoints: CrashPoint[] = [];
  let clock = 0;
  return {
    calls,
    checkpoints,
    ports: {
      store,
      chain,
      operator,
      config,
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
        head += 1n;
      }, // a block per poll
      checkpoint: (at: CrashPoint) => {
        checkpoints.push(at);
      },
    },
  };
}

describe("runSettlement", () => {
  it("opens nothing when nothing is payable", async () => {
    const f = fakes({});
    expect(await runSettlement(f.ports)).toMatchObject({ status: "nothing_to_settle", period: null, opened: false });
  });

  it("signs a recorded batch at the pending nonce, stores it before the broadcast, and finalizes it once confirmed", async () => {
    const f = fakes({ created: periodWith(batch()) });
    const run = await runSettlement(f.ports);
    expect(run).toMatchObject({
      status: "settled",
      opened: true,
      batches: [{ batchId: BATCH, status: "settled", txHash: TX, blockNumber: "51" }],
    });
    expect(f.calls).toEqual(["markSending 4", "broadcast", "finalizeBatch 51"]);
    expect(f.checkpoints).toEqual(["recorded", "signed", "sent", "confirmed"]);
  });

  it("leaves a batch retryable, without sending it, when the call would revert", async () => {
    const f = fakes({ open: periodWith(batch()), signError: new WouldRevertError("paused") });
    const run = await runSettlement(f.ports);
    expect(run).toMatchObject({ status: "retryable", opened: false, batches: [{ status: "retryable", error: "would revert: paused" }] });
    expect(f.calls).toEqual(["noteError would revert"]);
  });

  it("puts a batch back to recorded when its nonce went to another transaction", async () => {
    const f = fakes({ open: periodWith(batch()), broadcast: "nonce_spent" });
    expect((await runSettlement(f.ports)).status).toBe("retryable");
    expect(f.calls).toEqual(["markSending 4", "broadcast", "markRetryable the"]);
  });

  it("puts a reverted batch back to recorded, leaving the ledger alone", async () => {
    const f = fakes({ open: periodWith(batch()), mined: "reverted" });
    expect((await runSettlement(f.ports)).status).toBe("retryable");
    expect(f.calls).toEqual(["markSending 4", "broadcast", "markRetryable transaction"]);
  });

  it("re-broadcasts the stored bytes of a batch the node has never seen", async () => {
    const f = fakes({ open: periodWith(batch({ status: "sending", nonce: 4, txHash: TX, rawTx: "0xf00d" })) });
    expect((await runSettlement(f.ports)).status).toBe("settled");
    expect(f.calls).toEqual(["broadcast", "finalizeBatch 51"]);
  });

  it("reports a batch still short of its confirmations as pending once the wait is over", async () => {
    const f = fakes({ open: periodWith(batch()) });
    const run = await runSettlement({ ...f.ports, waitMs: 0 });
    expect(run).toMatchObject({ status: "pending", batches: [{ status: "pending", txHash: TX }] });
    expect(f.calls).toEqual(["markSending 4", "broadcast"]);
  });
});
