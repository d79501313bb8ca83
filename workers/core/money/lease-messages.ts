/** What an isolate and the account's object say to each other about leases (lease-book.ts, local-lease.ts). */
import type { Endpoint } from "../routing/types";
import type { GuardSettle, KeyLimits, RateInfo } from "./admission";

export interface LeaseAsk {
  leaseId: string;
  /** True to top up a lease this isolate holds; a lease the object no longer knows is then not renewed. */
  topUp: boolean;
  limits: KeyLimits;
  /** The largest worst case (pico-USDC) and token reservation of the key's recent requests. */
  perRequestPico: bigint;
  perRequestTokens: number;
  /** The requests the isolate expects within the lease's horizon. */
  wantRequests: number;
  ttlMs: number;
}

export interface LeaseGrant {
  leaseId: string;
  /** Added to the lease by this call (a top-up never shrinks a lease: the isolate may have spent it). */
  addedPico: bigint;
  addedRequests: number;
  addedTokens: number;
  /** The key's limits as the object sees them with every lease counted as taken. */
  rate: RateInfo;
  /** The lease is the isolate's until ttlMs after it asked (less its grace). */
  ttlMs: number;
}

/** An isolate spent part of a lease on a request. */
export interface LeaseUse {
  kind: "use";
  leaseId: string;
  requestId: string;
  keyId: string;
  endpoint: Endpoint;
  amountPico: bigint;
  tokens: number;
  /** The isolate's clock when it admitted the request. */
  atMs: number;
  /** The request's own reservation lives this long without a report. */
  ttlMs: number;
}

/**
 * The isolate gave a lease back, with what it spent of it over its life: calls carrying messages
 * can overtake each other, so uses may still be on their way; what they hold stays held until they
 * arrive (or the lease's hold expires).
 */
export interface LeaseReturn {
  kind: "return";
  leaseId: string;
  spent: LeaseSpend;
}

/** What an isolate drew from one lease: requests admitted on it, their worst cases and tokens. */
export interface LeaseSpend {
  uses: number;
  pico: bigint;
  requests: number;
  tokens: number;
}

/** What an isolate sends the account's object off the critical path, in order: settles, lease uses, returns. */
export type GuardMessage = GuardSettle | LeaseUse | LeaseReturn;
