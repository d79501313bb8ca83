/** What one run of a chain job reports (the admin endpoints answer with it; the Node runner prints it). */

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

export type BatchOutcome =
  | { batchId: string; status: "settled"; txHash: string; blockNumber: string }
  | { batchId: string; status: "pending"; txHash: string }
  | { batchId: string; status: "retryable"; error: string };

export interface SettlementRun {
  status: "nothing_to_settle" | "settled" | "pending" | "retryable";
  period: { id: number; merkleRoot: string; receipts: number; cutoff: string } | null;
  /** true when this run opened the period (false: it resumed one). */
  opened: boolean;
  batches: BatchOutcome[];
  /** Pending withdrawals lowered on chain to what the ledger held. */
  withdrawalsLimited: number;
}
