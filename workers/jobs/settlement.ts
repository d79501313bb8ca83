/**
 * The settlement job (cron, and POST /admin/v1/jobs/settlement/run): closes a period and pays
 * every provider what the ledger owes it, in batched `settle` transactions, exactly once.
 *
 * Every step leaves a record that the next run resumes from:
 *   no open period        → open one: payouts, receipts and Merkle root, batches recorded (one DB transaction)
 *   batch recorded        → settled on chain already? finalize. Else sign at an explicit nonce,
 *                           store the signed bytes, then broadcast
 *   batch sending         → receipt with enough confirmations: finalize (ledger + status together);
 *                           reverted: back to recorded, ledger untouched; unknown to the node:
 *                           broadcast the same bytes again (its nonce spent elsewhere: sign anew)
 * The contract refuses a batch id twice, so even a mistaken second send cannot pay twice.
 */
import type { Hex } from "viem";
import type { SettlementBatchRow } from "../../db/schema";
import type { ChainConfig } from "../config";
import { WouldRevertError } from "../core/settlement/errors";
import type { BatchOutcome, SettlementRun } from "../core/settlement/runs";
import type { ChainReader, Operator, SettlementStore } from "../ports";

/** Where a test may kill the job (MESHGATE_CRASH_AT in the Node runner); nothing stops here in production. */
export type CrashPoint = "recorded" | "signed" | "sent" | "confirmed";

export interface SettlementPorts {
  store: SettlementStore;
  chain: ChainReader;
  operator: Operator;
  config: ChainConfig;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  checkpoint?: (at: CrashPoint) => Promise<void> | void;
  /** Overrides config.settlementWaitMs for this run. */
  waitMs?: number;
}

export async function runSettlement(p: SettlementPorts): Promise<SettlementRun> {
  const limited = await limitWithdrawals(p);
  let open = await p.store.openPeriod();
  let opened = false;
  if (!open) {
    const created = await p.store.createPeriod({
      chainId: p.config.chainId,
      settlement: p.config.settlement,
      cutoff: new Date(p.now()),
      maxPayoutsPerBatch: p.config.maxPayoutsPerBatch,
      escrowBase: await p.chain.escrow(),
    });
    if (!created) return { status: "nothing_to_settle", period: null, opened: false, batches: [], withdrawalsLimited: limited };
    open = created.open;
    opened = created.plan !== null;
    await p.checkpoint?.("recorded");
  }
  const deadline = p.now() + (p.waitMs ?? p.config.settlementWaitMs);
  const batches: BatchOutcome[] = [];
  for (const b of open.batches) {
    if (b.status === "settled") {
      batches.push({ batchId: b.id, status: "settled", txHash: b.txHash ?? "", blockNumber: String(b.blockNumber ?? "") });
      continue;
    }
    batches.push(await advance(p, b, open.period.merkleRoot as Hex, deadline));
  }
  const status = batches.some((b) => b.status === "retryable")
    ? "retryable"
    : batches.every((b) => b.status === "settled")
      ? "settled"
      : "pending";
  const period = {
    id: open.period.id,
    merkleRoot: open.period.merkleRoot,
    receipts: open.period.receiptCount,
    cutoff: open.period.cutoff.toISOString(),
  };
  return { status, period, opened, batches, withdrawalsLimited: limited };
}

/**
 * A customer asked to withdraw more than the ledger could hold (spent, or owed): before the
 * withdrawal becomes available, the operator lowers it on chain to what was held.
 */
async function limitWithdrawals(p: SettlementPorts): Promise<number> {
  let done = 0;
  for (const w of await p.store.withdrawalsToLimit()) {
    if (w.chainId !== p.config.chainId) continue;
    try {
      const sent = await p.operator.limitWithdrawal(w.account as Hex, w.heldBase);
      if (!sent.ok) continue; // e.g. cancelled meanwhile: looked at again next run
      await p.store.markWithdrawalLimited(w, sent.hash);
      done++;
    } catch (err) {
      if (!(err instanceof WouldRevertError)) throw err;
      // Cancelled, already withdrawn or past its window: nothing the operator can do on chain now.
    }
  }
  return done;
}

async function advance(p: SettlementPorts, b: SettlementBatchRow, root: Hex, deadline: number): Promise<BatchOutcome> {
  const id = b.id as Hex;
  if (b.status === "recorded") {
    if (await p.chain.isSettled(id)) return finalizeFromChain(p, id);
    const nonce = await p.chain.nonce(p.operator.address, "pending");
    let signed;
    try {
      signed = await p.operator.signSettle(
        {
          batchId: id,
          merkleRoot: root,
          providers: b.payouts.map((x) => x.address as Hex),
          amounts: b.payouts.map((x) => BigInt(x.amountBase)),
          feeBase: b.feeBase,
        },
        nonce,
      );
    } catch (err) {
      if (!(err instanceof WouldRevertError)) throw err;
      await p.store.noteError(id, `would revert: ${err.message}`);
      return { batchId: id, status: "retryable", error: `would revert: ${err.message}` };
    }
    if (!(await p.store.markSending(id, signed))) return track(p, await reload(p, id), deadline); // a concurrent run got there first
    await p.checkpoint?.("signed");
    if ((await p.operator.broadcast(signed.raw)) === "nonce_spent") return nonceSpent(p, id);
    await p.checkpoint?.("sent");
    return track(p, { ...b, status: "sending", nonce: signed.nonce, txHash: signed.hash, rawTx: signed.raw }, deadline);
  }
  return track(p, b, deadline);
}

/** Follows a sent batch until it is confirmed, reverted, or the run's time is up. */
async function track(p: SettlementPorts, b: SettlementBatchRow, deadline: number): Promise<BatchOutcome> {
  const id = b.id as Hex;
  if (b.status === "settled") return { batchId: id, status: "settled", txHash: b.txHash ?? "", blockNumber: String(b.blockNumber ?? "") };
  if (b.status === "recorded") return { batchId: id, status: "retryable", error: b.lastError ?? "not sent" };
  const hash = b.txHash as Hex;
  for (;;) {
    const receipt = await p.chain.receipt(hash);
    if (receipt?.status === "reverted") {
      if (await p.chain.isSettled(id)) return finalizeFromChain(p, id); // another transaction paid it; ours bounced off the batch id
      const error = `transaction ${hash} reverted in block ${receipt.blockNumber}`;
      await p.store.markRetryable(id, error);
      return { batchId: id, status: "retryable", error };
    }
    if (receipt) {
      const confirmations = (await p.chain.head()) - receipt.blockNumber + 1n;
      if (confirmations >= BigInt(p.config.confirmations)) {
        await p.checkpoint?.("confirmed");
        await p.store.finalizeBatch(id, { txHash: hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed });
        return { batchId: id, status: "settled", txHash: hash, blockNumber: receipt.blockNumber.toString() };
      }
    } else if (!(await p.chain.knows(hash))) {
      // Signed and stored, but the node has never seen it (a crash before the broadcast) or dropped it.
      if ((await p.operator.broadcast(b.rawTx as Hex)) === "nonce_spent") return nonceSpent(p, id);
    }
    if (p.now() >= deadline) return { batchId: id, status: "pending", txHash: hash };
    await p.sleep(250);
  }
}

/** Our nonce went to another transaction, and ours has no receipt: it can never land, so sign again. */
async function nonceSpent(p: SettlementPorts, id: Hex): Promise<BatchOutcome> {
  if (await p.chain.isSettled(id)) return finalizeFromChain(p, id);
  const error = "the signed transaction's nonce was used by another transaction; it will be signed again";
  await p.store.markRetryable(id, error);
  return { batchId: id, status: "retryable", error };
}

async function finalizeFromChain(p: SettlementPorts, id: Hex): Promise<BatchOutcome> {
  const by = await p.chain.settledBy(id);
  if (!by) throw new Error(`batch ${id} is settled on chain but its Settled event was not found`);
  if ((await p.chain.head()) - by.blockNumber + 1n < BigInt(p.config.confirmations))
    return { batchId: id, status: "pending", txHash: by.txHash };
  const receipt = await p.chain.receipt(by.txHash);
  await p.store.finalizeBatch(id, { txHash: by.txHash, blockNumber: by.blockNumber, gasUsed: receipt?.gasUsed ?? null });
  return { batchId: id, status: "settled", txHash: by.txHash, blockNumber: by.blockNumber.toString() };
}

async function reload(p: SettlementPorts, id: string): Promise<SettlementBatchRow> {
  const open = await p.store.openPeriod();
  const b = open?.batches.find((x) => x.id === id);
  if (!b) throw new Error(`batch ${id} vanished while it was being sent`);
  return b;
}
