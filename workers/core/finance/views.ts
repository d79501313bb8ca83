/** What the finance views return: camelCase and bigint here; the HTTP layer turns money into decimal strings. */
import type { ReceiptRecord } from "../metering/records";
import type { UsageRecord } from "../metering/usage";

/** A usage event as stored (its time as a Date). */
export type StoredUsage = Omit<UsageRecord, "createdAtMs"> & { createdAt: Date };
/** A receipt as stored: its settlement period once one commits it. */
export type StoredReceipt = ReceiptRecord & { periodId: number | null; createdAt: Date };
/** One row of the latency table, as the provider views show it. */
export interface LatencyFigures {
  edge: string;
  model: string;
  ttftMs: number;
  tpotMs: number;
  successRate: number;
  samples: number;
  updatedAt: Date;
}

/** Whose figures a query may see: one account's, or (an operator's finance key) everyone's. */
export type FinanceScope = { kind: "account"; accountId: string } | { kind: "all" };

export type UsageGroup = "day" | "hour" | "model" | "key" | "provider";

export interface UsageRow {
  /** The group's key: an ISO bucket start (day, hour), a model, a key id or a provider id ("" for none). */
  group: string;
  /** For people: "2026-04-01", "2026-04-01 13:00", the key's name, "(no provider)". */
  label: string;
  requests: number;
  failedRequests: number;
  promptTokens: bigint;
  completionTokens: bigint;
  costPico: bigint;
  feePico: bigint;
  /** Pico-USDC per million tokens (prompt and completion together); null without tokens. */
  avgPricePerMTokPico: bigint | null;
  p50TtftMs: number | null;
}

export interface UsageQuery {
  from: Date;
  to: Date;
  groupBy: UsageGroup;
  model?: string;
  keyId?: string;
  providerId?: string;
}

export interface SeriesPoint {
  bucket: string;
  model: string;
  requests: number;
  tokens: bigint;
  costPico: bigint;
}

export interface AccountSummary {
  balancePico: bigint;
  spend24hPico: bigint;
  spend7dPico: bigint;
  /** The last 7 days' spend per day. */
  burnRatePicoPerDay: bigint;
  /** Days the balance lasts at that rate (one decimal); null when nothing is being spent. */
  runwayDays: number | null;
  /** The keys that spent most over the last 7 days. */
  topKeys: { keyId: string; name: string; prefix: string; requests: number; costPico: bigint }[];
}

export interface LedgerItem {
  id: number;
  kind: string;
  reference: string;
  account: string;
  amountPico: bigint;
  createdAt: Date;
}

export interface DepositItem {
  chainId: number;
  txHash: string;
  logIndex: number;
  blockNumber: bigint;
  accountId: string | null;
  account: string;
  fromAddress: string;
  amountBase: bigint;
  status: "credited" | "unmatched";
  createdAt: Date;
}

export interface SettlementItem {
  batchId: string;
  periodId: number;
  part: number;
  cutoff: Date;
  merkleRoot: string;
  totalBase: bigint;
  feeBase: bigint;
  payouts: { providerId: string; address: string; amountBase: bigint }[];
  status: string;
  txHash: string | null;
  blockNumber: bigint | null;
  settledAt: Date | null;
}

export interface RequestTrace {
  usage: StoredUsage;
  receipt: StoredReceipt | null;
  /** The request's ledger transactions (usage, and any adjustment): every posting of each. */
  ledger: LedgerItem[];
  period: { id: number; cutoff: Date; merkleRoot: string; receiptCount: number; status: string; settledAt: Date | null } | null;
  batches: SettlementItem[];
}

export interface ProviderEarning {
  providerId: string;
  address: string | null;
  /** Credited for serving requests (cost minus the protocol fee), all time. */
  earnedPico: bigint;
  /** Paid out by settled batches. */
  paidPico: bigint;
  unpaidPico: bigint;
  requests: number;
  stakeBase: bigint | null;
}

export interface ProviderOverview extends ProviderEarning {
  suspended: boolean;
  /** Within the range asked for, from the rollups. */
  range: {
    from: Date;
    to: Date;
    requests: number;
    failedRequests: number;
    promptTokens: bigint;
    completionTokens: bigint;
    earnedPico: bigint;
    p50TtftMs: number | null;
  };
  /** Per UTC day of the range. */
  daily: { bucket: string; requests: number; earnedPico: bigint }[];
  payouts: {
    batchId: string;
    periodId: number;
    amountBase: bigint;
    status: string;
    txHash: string | null;
    blockNumber: bigint | null;
    settledAt: Date | null;
  }[];
  latency: LatencyFigures[];
  /** Success rate over every edge and model, weighted by samples; null before any sample. */
  successRate: number | null;
  recentReceipts: {
    requestId: string;
    model: string;
    promptTokens: number;
    completionTokens: number;
    status: string;
    periodId: number | null;
    createdAt: Date;
  }[];
}
