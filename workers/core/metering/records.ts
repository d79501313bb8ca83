/**
 * The records the receipt path reads and writes, as the ports speak of them: a stored receipt, the
 * usage event billed for a request, its reservation, and a correction to the provider's signed counts.
 */
import type { Endpoint } from "../routing/types";

/** A receipt as stored, with the gateway's verdict on it. */
export interface ReceiptRecord {
  requestId: string;
  providerId: string;
  /** The wallet that signed it (lowercase). */
  signer: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  inputPrice: bigint;
  outputPrice: bigint;
  responseHash: string;
  signedAtMs: number;
  /** The EIP-712 digest: the receipt's leaf in its period's Merkle tree. */
  digest: string;
  signature: string;
  /** For a receipt signed by the batch: the root `signature` signs and the receipt's path to it. */
  batch: { root: string; proof: string[] } | null;
  source: "inline" | "outbox";
  status: "verified" | "mismatch" | "orphan";
}

/** What the gateway already holds of a request's receipt: enough to know a re-sent one or a re-signed claim, and its verdict. */
export type StoredReceipt = Pick<
  ReceiptRecord,
  "digest" | "signature" | "status" | "model" | "promptTokens" | "completionTokens" | "inputPrice" | "outputPrice" | "responseHash"
>;

/** The billed counts of a request's usage event, for judging an outbox receipt. */
export interface BilledUsage {
  accountId: string;
  providerId: string | null;
  promptTokens: number;
  completionTokens: number;
  costPico: bigint;
  feePico: bigint;
  errorCode: string | null;
}

/** Who a reservation belongs to, the most its request may cost, and whether it reported back. */
export interface ReservationRecord {
  accountId: string;
  keyId: string;
  endpoint: Endpoint;
  amountPico: bigint;
  createdAtMs: number;
  settled: boolean;
}

/** Bills a usage event again at the provider's signed counts, only if it is still as it was billed. */
export interface TopUpRequest {
  requestId: string;
  accountId: string;
  providerId: string;
  promptTokens: number;
  completionTokens: number;
  costPico: bigint;
  feePico: bigint;
  previousCostPico: bigint;
  previousFeePico: bigint;
}

/** applied: the event now carries the new counts; customerPosting: the adjustment's posting on the customer, if money moved. */
export type TopUp = { applied: false } | { applied: true; customerPosting: { amountPico: bigint; entryId: number } | null };
