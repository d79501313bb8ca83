/**
 * Every port the worker's pipeline, routes and jobs use: TYPES ONLY, declared in the vocabulary of
 * `core` (and the data model's row types, `db/schema`). Adapters implement these; `wire.ts` is the
 * only file that builds them. The arrow points from the implementation to the port, never back.
 */
import type { Account, ApiKey, Provider, ProviderModel, ReceiptRow, SettlementBatchRow, SettlementPeriodRow } from "../db/schema";
import type { Config } from "./config";
import type { DashboardSession, NewDashboardSession } from "./core/auth/dashboard-session";
import type { KeyRecord, NewKey } from "./core/auth/keys";
import type { ChallengeRequest } from "./core/protocol/endpoint-challenge";
import type { EndpointHolder, Heartbeat, ProviderUpsert, RegisterOutcome, Registration } from "./core/protocol/registration";
import type { UpstreamReply, UpstreamRequest } from "./core/protocol/upstream";
import type {
  AccountSummary,
  DepositItem,
  FinanceScope,
  LedgerItem,
  ProviderEarning,
  ProviderOverview,
  RequestTrace,
  SeriesPoint,
  SettlementItem,
  UsageQuery,
  UsageRow,
} from "./core/finance/views";
import type { UsageRecord } from "./core/metering/usage";
import type { Decision, GuardAdmit } from "./core/money/admission";
import type { BatchSigners } from "./core/protocol/receipt-batch";
import type { BreakerBoard } from "./core/routing/breaker";
import type { LatencyObservation } from "./core/routing/latency";
import type { RouteTable } from "./core/routing/types";
import type { ReceiptRecord, BilledUsage, ReservationRecord, StoredReceipt, TopUp, TopUpRequest } from "./core/metering/records";
import type { Address, Hex } from "viem";
import type { Booked, FundEvents, MinedTx, SettleCall, SignedTx } from "./core/settlement/chain-events";
import type { PayoutPlan } from "./core/settlement/payouts";
import type { SettlementRun } from "./core/settlement/runs";

export type { KeyRecord } from "./core/auth/keys";

/** Milliseconds since the epoch; the one clock the pipeline reads. */
export type Clock = () => number;

export interface Keys {
  bySecretHash(hash: string): Promise<KeyRecord | null>;
  invalidateAll(): void;
}

export interface Routes {
  /** The table, holding the latency rows of `edge` (the request's location; omitted: any edge will do). */
  table(edge?: string): Promise<RouteTable>;
  /** After an admin change or a probe: refresh now, in the background, so the change shows at once. */
  invalidate(): void;
  /** Loads the table anew and waits for it: after an operator's action or the probe, the next request sees the change. */
  reload(): Promise<void>;
}

/** A provider runtime over HTTP; every failure is core's UpstreamError. */
export interface Upstream {
  send(req: UpstreamRequest): Promise<UpstreamReply>;
}

export interface Usage {
  /** Queues a usage record; written off the critical path, batched, idempotent on request id. */
  record(rec: UsageRecord | null, observations: LatencyObservation[], receipt?: ReceiptRecord | null): void;
  /** Sets a usage event's receipt verdict, buffered or already written. */
  setReceiptStatus(requestId: string, status: UsageRecord["receiptStatus"]): void;
  byRequestId(requestId: string, accountId: string): Promise<UsageRecord | null>;
}

/** The account's Durable Object: reservations, budgets and rate limits. */
export interface Guard {
  admit(accountId: string, req: GuardAdmit): Promise<Decision>;
  /** Queued: rides on the account's next admission, or goes in one call per window. */
  settle(accountId: string, requestId: string, chargePico: bigint, tokens: number): void;
  credit(accountId: string, amountPico: bigint, entryId: number): Promise<void>;
}

/** A receipt with its settlement period, the period's leaves and batches: what a Merkle proof needs. */
export interface ReceiptInPeriod {
  receipt: ReceiptRow;
  period: SettlementPeriodRow | null;
  digests: `0x${string}`[];
  batches: SettlementBatchRow[];
}

/** The provider side: self-registration, heartbeats, and the records receipts are judged against. */
/** The agent's answer to an endpoint-ownership challenge: its JSON body, or why none came. */
export type ChallengeAnswer = { ok: true; body: unknown } | { ok: false; detail: string };

/** Sends the endpoint-ownership challenge to the agent at a registering endpoint (signed, no redirects, short deadline). */
export interface EndpointChallenger {
  send(endpoint: string, challenge: ChallengeRequest): Promise<ChallengeAnswer>;
}

export interface Registry {
  register(r: Registration): Promise<RegisterOutcome>;
  /** Before a registration's challenge: the wallet the id is bound to (null: none; absent: no such id), and who holds the endpoint. */
  claims(id: string, endpoint: string): Promise<{ boundAddress?: string | null; endpointHolder: EndpointHolder | null }>;
  heartbeat(h: Heartbeat): Promise<"ok" | "unknown" | "stale">;
  providerByAddress(address: string): Promise<{ id: string; address: string | null } | null>;
  /** Stores receipts once (request id) and marks their usage events; the ids stored. */
  storeReceipts(rows: ReceiptRecord[]): Promise<string[]>;
  usageFor(requestIds: string[]): Promise<Map<string, BilledUsage>>;
  topUpUsage(t: TopUpRequest): Promise<TopUp>;
  /** Writes one usage event and its ledger postings now (awaited, not buffered); false if the request already had one. */
  writeUsageNow(rec: UsageRecord): Promise<boolean>;
  storedReceipts(requestIds: string[]): Promise<Map<string, StoredReceipt>>;
  reservationsFor(requestIds: string[]): Promise<Map<string, ReservationRecord>>;
  receiptFor(requestId: string): Promise<ReceiptRow | null>;
  receiptInPeriod(requestId: string): Promise<ReceiptInPeriod | null>;
}

export type { Heartbeat, ProviderUpsert, RegisterOutcome, Registration } from "./core/protocol/registration";
export type { UpstreamPath, UpstreamReply, UpstreamRequest } from "./core/protocol/upstream";
export type { NewKey } from "./core/auth/keys";

export type KeyListing = Omit<ApiKey, "secretHash">;

/** Accounts, keys and the provider registry, for the admin API and the probe. */
export interface Admin {
  createAccount(name: string): Promise<Account>;
  listAccounts(): Promise<Account[]>;
  /** The account with its balance: the sum of its ledger postings. */
  getAccount(id: string): Promise<(Account & { balancePico: bigint }) | null>;
  grantCredit(accountId: string, amountPico: bigint, note: string | null): Promise<{ id: string; balancePico: bigint; entryId: number }>;
  accountExists(id: string): Promise<boolean>;
  createKey(k: NewKey): Promise<ApiKey>;
  listKeys(accountId?: string): Promise<KeyListing[]>;
  /** The account a key belongs to, or null when there is no such key. */
  keyAccount(keyId: string): Promise<string | null>;
  revokeKey(id: string): Promise<boolean>;
  listProviders(): Promise<(Provider & { models: ProviderModel[] })[]>;
  upsertProvider(p: ProviderUpsert): Promise<void>;
  setSuspended(id: string, suspended: boolean, reason: string | null): Promise<boolean>;
  /** A probe's success stands in for the heartbeat of a provider without an agent. */
  markProbed(ids: string[]): Promise<void>;
}

/** The finance views (rollups, books, the provider side), read-only. */
export interface Finance {
  usageReport(scope: FinanceScope, q: UsageQuery): Promise<UsageRow[]>;
  usageSeries(scope: FinanceScope, q: { from: Date; to: Date; grain: "hour" | "day" }): Promise<SeriesPoint[]>;
  accountSummary(scope: FinanceScope, nowMs: number): Promise<AccountSummary>;
  ledgerPage(
    scope: FinanceScope,
    q: { limit: number; before?: number; kind?: string; from?: Date; to?: Date },
  ): Promise<{ entries: LedgerItem[]; nextBefore: number | null }>;
  depositList(scope: FinanceScope, q: { limit: number; before?: string }): Promise<{ entries: DepositItem[]; nextBefore: string | null }>;
  settlementList(scope: FinanceScope, q: { limit: number; periodId?: number }): Promise<SettlementItem[]>;
  requestTrace(scope: FinanceScope, requestId: string): Promise<RequestTrace | null>;
  providerEarnings(only?: string[]): Promise<ProviderEarning[]>;
  providerOverview(providerId: string, q: { from: Date; to: Date }): Promise<ProviderOverview | null>;
}

/** Dashboard sign-ins, found by the SHA-256 of the cookie's token. */
export interface Sessions {
  create(s: NewDashboardSession): Promise<void>;
  find(tokenHash: string, now: Date): Promise<DashboardSession | null>;
  revoke(tokenHash: string, now: Date): Promise<void>;
}

/** What the request path and the finance views read from the L2 (null in Ports when no chain is configured). */
export interface ChainHead {
  head(): Promise<bigint>;
}

/** The L2 as the chain jobs read it: blocks, the Settlement contract's events and state, transactions. No key. */
export interface ChainReader extends ChainHead {
  blockHash(blockNumber: bigint): Promise<Hex>;
  fundEvents(fromBlock: bigint, toBlock: bigint): Promise<FundEvents>;
  stakeOf(provider: Address): Promise<bigint>;
  escrow(): Promise<bigint>;
  isSettled(batchId: Hex): Promise<boolean>;
  /** From the batch's `Settled` event (null if none). */
  settledBy(batchId: Hex): Promise<{ txHash: Hex; blockNumber: bigint } | null>;
  receipt(hash: Hex): Promise<MinedTx | null>;
  /** Whether the node knows the transaction (pending or mined). */
  knows(hash: Hex): Promise<boolean>;
  nonce(address: Address, blockTag: "latest" | "pending"): Promise<number>;
}

/** The settlement operator's signer (OPERATOR_PRIVATE_KEY). Simulated calls that would revert throw core's WouldRevertError. */
export interface Operator {
  address: Address;
  /** Simulates `settle`, then signs it at `nonce`; sends nothing. */
  signSettle(call: SettleCall, nonce: number): Promise<SignedTx>;
  /** Lowers a pending withdrawal to what the ledger held; resolves once it is mined. */
  limitWithdrawal(customer: Hex, amountBase: bigint): Promise<{ hash: Hex; ok: boolean }>;
  /** "nonce_spent": that nonce went to another transaction, so these bytes can never land. */
  broadcast(raw: Hex): Promise<"sent" | "nonce_spent">;
}

export interface OpenPeriod {
  period: SettlementPeriodRow;
  batches: SettlementBatchRow[];
}
export interface WithdrawalKey {
  chainId: number;
  txHash: string;
  logIndex: number;
}

/** The settlement job's records. Each call is one unit of work (createPeriod and finalizeBatch one transaction each). */
export interface SettlementStore {
  openPeriod(): Promise<OpenPeriod | null>;
  /** Null when nothing is payable; plan null when a concurrent run had opened it; throws core's EscrowShortfallError. */
  createPeriod(a: {
    chainId: number;
    settlement: Hex;
    cutoff: Date;
    maxPayoutsPerBatch: number;
    escrowBase: bigint;
  }): Promise<{ open: OpenPeriod; plan: PayoutPlan | null } | null>;
  /** Stores the signed transaction before its broadcast; false if the batch was no longer `recorded`. */
  markSending(batchId: string, signed: SignedTx): Promise<boolean>;
  markRetryable(batchId: string, error: string): Promise<void>;
  noteError(batchId: string, error: string): Promise<void>;
  /** The ledger's payout and the batch's `settled` status commit together. */
  finalizeBatch(batchId: string, onChain: { txHash: string; blockNumber: bigint; gasUsed: bigint | null }): Promise<"settled" | "already">;
  /** Pending withdrawals the ledger held less of than was asked. */
  withdrawalsToLimit(): Promise<(WithdrawalKey & { account: string; heldBase: bigint })[]>;
  markWithdrawalLimited(w: WithdrawalKey, limitTxHash: string): Promise<void>;
}

/** The chain sync's records; bookFundEvents books a range and moves the cursor past it in one transaction. */
export interface ChainSyncStore {
  readCursor(name: string): Promise<{ nextBlock: bigint; lastBlockHash: string | null } | null>;
  bookFundEvents(
    a: FundEvents & { chainId: number; cursor: string; nextBlock: bigint; lastBlockHash: string },
  ): Promise<{ booked: Booked[]; unmatched: number }>;
  providersWithAddress(): Promise<{ id: string; address: Address }[]>;
  recordStakes(stakes: { providerId: string; stakeBase: bigint }[]): Promise<void>;
}

export interface ChainJobs {
  chain: ChainReader;
  syncStore: ChainSyncStore;
  settlementStore: SettlementStore;
}

/** Everything a request, a page or a job may reach, built per request by wire.ts. */
/** How a drain ended (adapters/lifecycle.ts). */
export interface DrainReport {
  /** Everything finished and written before the deadline. */
  complete: boolean;
  /** Requests and background tasks still running at the end. */
  inFlight: number;
  /** Usage records (and receipts, verdicts) not durably written at the end. */
  unwritten: number;
  tookMs: number;
}

/** The isolate's orderly stop: refuse new work, finish what runs, write every usage record. */
export interface Lifecycle {
  readonly draining: boolean;
  drain(deadlineMs: number): Promise<DrainReport>;
}

export interface Ports {
  now: Clock;
  lifecycle: Lifecycle;
  keys: Keys;
  routes: Routes;
  upstream: Upstream;
  challenger: EndpointChallenger;
  usage: Usage;
  guard: Guard;
  registry: Registry;
  admin: Admin;
  finance: Finance;
  sessions: Sessions;
  /** The L2's head block, or null without a chain. */
  chainHead: ChainHead | null;
  /** What the chain jobs read and write, or null without a chain. */
  chainJobs: ChainJobs | null;
  /** Jobs whose wiring holds a secret: settlement, with the operator's key that only wire.ts reads. */
  jobs: { settle(waitMs?: number): Promise<SettlementRun> };
  /** Per-isolate circuit breakers (plain data, core's). */
  breakers: BreakerBoard;
  /** Per-isolate memory of batch roots' recovered signers (plain data, core's). */
  batchSigners: BatchSigners;
  /** The Ed25519 public key (raw, base64url) providers verify our requests with. */
  gatewayPublicKey(): Promise<string>;
  /** Keeps work alive after the response (ctx.waitUntil). */
  background(p: Promise<unknown>): void;
}

/** The ports and the parsed configuration, as the request path receives them. */
export type Deps = Ports & { cfg: Config };
