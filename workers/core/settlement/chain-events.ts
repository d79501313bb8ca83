/**
 * The plain data the chain jobs move between the L2 and the books: the Settlement contract's fund
 * events as read, a `settle` call and its signed transaction, and the ledger changes a sync booked.
 * Declared here so that the jobs, the ports and the adapters share one definition.
 */
import type { Address, Hex } from "viem";

export interface DepositEvent {
  txHash: Hex;
  logIndex: number;
  blockNumber: bigint;
  blockHash: Hex;
  account: Hex;
  from: Address;
  amountBase: bigint;
}
export interface WithdrawalEvent {
  txHash: Hex;
  logIndex: number;
  blockNumber: bigint;
  account: Hex;
  owner: Address;
  amountBase: bigint;
  availableAt: bigint;
}
/** A pending withdrawal ended: cancelled by its owner, or paid (`paidBase`). */
export interface WithdrawalClose {
  txHash: Hex;
  logIndex: number;
  blockNumber: bigint;
  account: Hex;
  kind: "cancelled" | "withdrawn";
  paidBase: bigint;
}

/** Every fund event of a block range, each list in chain order. */
export interface FundEvents {
  deposits: DepositEvent[];
  withdrawals: WithdrawalEvent[];
  closes: WithdrawalClose[];
}

/** A ledger change for one account: a deposit, a withdrawal hold, or a hold released when a withdrawal closed. */
export interface Booked {
  kind: "deposit" | "withdrawal" | "release";
  accountId: string;
  amountPico: bigint;
  entryId: number;
}

export interface SettleCall {
  batchId: Hex;
  merkleRoot: Hex;
  providers: Hex[];
  amounts: bigint[];
  feeBase: bigint;
}
export interface SignedTx {
  nonce: number;
  hash: Hex;
  raw: Hex;
}

/** What the jobs read from a mined transaction's receipt. */
export interface MinedTx {
  status: "success" | "reverted";
  blockNumber: bigint;
  gasUsed: bigint;
}
