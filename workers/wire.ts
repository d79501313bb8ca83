/**
 * The only file that imports adapters: builds the ports for one request (or one scheduled run).
 * Caches live per isolate and hold plain data; a database is opened per unit of work and closed
 * within the request that opened it.
 */
import { openNeonDb } from "../db/neon";
import type { DbHandle, WithDb } from "../db/client";
import { readConfig, type ChainConfig, type Env } from "./config";
import { operator } from "./adapters/chain/operator";
import { chainReader } from "./adapters/chain/reader";
import { SwrMap, SwrValue } from "./adapters/isolate-cache";
import { pgAdmin } from "./adapters/postgres/admin";
import { pgSessions } from "./adapters/postgres/dashboard-sessions";
import { pgFinance } from "./adapters/postgres/finance";
import { findKeyByHash } from "./adapters/postgres/keys";
import {
  providerByAddress,
  providerClaims,
  receiptFor,
  recordHeartbeat,
  registerProvider,
  reservationsFor,
  storedReceipts,
  storeReceipts,
  usageFor,
} from "./adapters/postgres/registry";
import { RouteSource } from "./adapters/route-source";
import { pgChainSyncStore } from "./adapters/postgres/chain-sync";
import { pgSettlementStore, receiptInPeriod } from "./adapters/postgres/settlement";
import { writeUsageBatch } from "./adapters/postgres/usage-batch";
import { findUsage, insertUsage, topUpUsage } from "./adapters/postgres/usage";
import { SettleQueue } from "./adapters/settle-queue";
import { LeasedGuard } from "./adapters/leased-guard";
import { httpUpstream, type RequestSigner } from "./adapters/upstream";
import { httpChallenger } from "./adapters/endpoint-challenger";
import { CHALLENGE_DEADLINE_MS } from "./core/protocol/endpoint-challenge";
import { UsageBuffer, type WriteUsageBatch } from "./adapters/usage-buffer";
import { IsolateLifecycle } from "./adapters/lifecycle";
import type { KeyRecord } from "./core/auth/keys";
import { importGatewaySigningKey, signGatewayRequest } from "./core/protocol/gateway-auth";
import { publicKeyOf } from "./core/protocol/public-key";
import { BatchSigners } from "./core/protocol/receipt-batch";
import { BreakerBoard } from "./core/routing/breaker";
import { settlementJob } from "./jobs/chain-jobs";
import type { ChainHead, ChainJobs, Deps, Operator } from "./ports";

/** How long a chain head read serves the finance views (a page of settlements asks once, not per row). */
const CHAIN_HEAD_TTL_MS = 5_000;

/** Open requests and background work of this isolate, and its drain (index.ts opens each request). */
export const lifecycle = new IsolateLifecycle();

let isolate:
  | {
      keyCache: SwrMap<KeyRecord | null>;
      routeTable: RouteSource;
      chainHead: SwrValue<bigint>;
      breakers: BreakerBoard;
      batchSigners: BatchSigners;
      usage: UsageBuffer;
      settles: SettleQueue;
      /** Built on first use (it calls the account objects through this isolate's bindings). */
      guard?: LeasedGuard;
      /** Imported once per isolate; a CryptoKey is data, not an I/O object. */
      signingKey?: CryptoKey;
      publicKey?: string;
    }
  | undefined;

export function depsFor(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): Deps {
  const cfg = readConfig(env);
  isolate ??= {
    // Key records: fresh for KEY_CACHE_MS, then served while one background refresh re-reads them
    // (a revoked key stops within seconds); after a minute unused, the next request waits.
    keyCache: new SwrMap(cfg.keyCacheMs, 60_000),
    // Serve a stale table while one refresh runs, but never one so old that every heartbeat in it looks stale.
    routeTable: new RouteSource(
      cfg.routeCacheMs,
      Math.max(cfg.routeCacheMs, cfg.heartbeatFreshMs / 2),
      cfg.edgeFallback,
      cfg.chain?.minStakeBase ?? 0n,
    ),
    chainHead: new SwrValue(CHAIN_HEAD_TTL_MS, CHAIN_HEAD_TTL_MS),
    breakers: new BreakerBoard(),
    batchSigners: new BatchSigners(),
    usage: new UsageBuffer(),
    settles: new SettleQueue(),
  };
  const state = isolate;
  const now = Date.now;
  const signRequest: RequestSigner = async (req) => {
    state.signingKey ??= await importGatewaySigningKey(cfg.gatewayRequestKey);
    return signGatewayRequest(state.signingKey, { ...req, timestampMs: now() });
  };
  const background = (p: Promise<unknown>) => {
    lifecycle.track(p);
    ctx.waitUntil(p);
  };
  const openDb = () => openNeonDb(cfg.databaseUrl, cfg.wsProxy);
  // Background work (metering flushes, cache refreshes) gets a session of its own; a page's
  // parallel finance queries share one.
  const withDb = sessionPerCall(openDb, background);
  const pageDb = overlappingDb(openDb, background);
  const writeUsage: WriteUsageBatch = (batch) => withDb((db) => writeUsageBatch(db, batch));
  const loadTable = (edge?: string) => state.routeTable.get(now(), edge, withDb, background);
  const guardOf = (accountId: string) => env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(accountId));
  // Admission with leases: steady traffic spends a slice the account's object granted, with no call.
  const leasedGuard = () => (state.guard ??= new LeasedGuard(guardOf, state.settles, { leases: cfg.admission !== "direct" }));
  const chain = cfg.chain;
  const chainHead: ChainHead | null = chain && { head: () => state.chainHead.get(now(), () => chainReader(chain).head(), background) };
  // Built on first use: an inference request never needs the chain's clients.
  let jobPorts: ChainJobs | null | undefined;
  const chainJobs = () => (jobPorts ??= chain && chainJobsOver(chain, withDb));

  return {
    cfg,
    now,
    background,
    lifecycle: {
      get draining() {
        return lifecycle.draining;
      },
      drain: (deadlineMs) => {
        state.guard?.returnAll(background); // the leases go back with the last settles
        return lifecycle.drain(state.usage.drainable(writeUsage), deadlineMs, ctx);
      },
    },
    chainHead,
    breakers: state.breakers,
    batchSigners: state.batchSigners,
    keys: {
      bySecretHash: (hash) => state.keyCache.get(hash, now(), () => withDb((db) => findKeyByHash(db, hash)), background),
      invalidateAll: () => state.keyCache.clear(),
    },
    routes: {
      table: loadTable,
      invalidate: () => {
        state.routeTable.invalidate();
        background(loadTable().catch(() => undefined));
      },
      reload: async () => {
        await state.routeTable.reload(now(), withDb);
      },
    },
    upstream: httpUpstream(fetch, now, signRequest),
    challenger: httpChallenger(fetch, signRequest, CHALLENGE_DEADLINE_MS),
    gatewayPublicKey: async () => (state.publicKey ??= await publicKeyOf(cfg.gatewayRequestKey)),
    usage: {
      record: (rec, obs, receipt) => {
        state.usage.push(rec, obs, receipt ?? null, background, writeUsage);
        if (rec) lifecycle.recorded(ctx);
      },
      setReceiptStatus: (id, status) => state.usage.setReceiptStatus(id, status, background, writeUsage),
      byRequestId: async (id, accountId) => {
        const pending = state.usage.find(id);
        if (pending) return pending.accountId === accountId ? pending : null;
        return withDb((db) => findUsage(db, id, accountId));
      },
    },
    guard: {
      admit: (accountId, req) => leasedGuard().admit(accountId, req, background),
      settle: (accountId, requestId, chargePico, tokens) => leasedGuard().settle(accountId, { requestId, chargePico, tokens }, background),
      credit: (accountId, amountPico, entryId) => guardOf(accountId).credit(accountId, amountPico, entryId),
    },
    registry: {
      register: (r) => withDb((db) => registerProvider(db, r)),
      claims: (id, endpoint) => withDb((db) => providerClaims(db, id, endpoint)),
      heartbeat: (h) => withDb((db) => recordHeartbeat(db, h)),
      providerByAddress: (a) => withDb((db) => providerByAddress(db, a)),
      storeReceipts: (rows) => withDb((db) => storeReceipts(db, rows)),
      usageFor: (ids) => withDb((db) => usageFor(db, ids)),
      storedReceipts: (ids) => withDb((db) => storedReceipts(db, ids)),
      reservationsFor: (ids) => withDb((db) => reservationsFor(db, ids)),
      topUpUsage: (t) => withDb((db) => topUpUsage(db, t)),
      writeUsageNow: (rec) => withDb(async (db) => (await insertUsage(db, [rec])).length === 1),
      receiptFor: (id) => withDb((db) => receiptFor(db, id)),
      receiptInPeriod: (id) => withDb((db) => receiptInPeriod(db, id)),
    },
    admin: pgAdmin(withDb),
    finance: pgFinance(pageDb),
    sessions: pgSessions(withDb),
    get chainJobs() {
      return chainJobs();
    },
    jobs: { settle: async (waitMs) => settlementJob({ cfg, chainJobs: chainJobs(), now }, chain && operatorFor(env, chain), waitMs) },
  };
}

/** The chain jobs' ports, each store call a unit of work of `withDb`. */
function chainJobsOver(chain: ChainConfig, withDb: WithDb): ChainJobs {
  return { chain: chainReader(chain), syncStore: pgChainSyncStore(withDb), settlementStore: pgSettlementStore(withDb) };
}

/**
 * The settlement operator's signer, from the OPERATOR_PRIVATE_KEY secret (null when unset). Only
 * `jobs.settle` calls this (in Node, scripts/settle.ts reads the key itself): it never enters Config.
 */
function operatorFor(env: Pick<Env, "OPERATOR_PRIVATE_KEY">, chain: ChainConfig): Operator | null {
  return env.OPERATOR_PRIVATE_KEY ? operator(chainReader(chain), env.OPERATOR_PRIVATE_KEY) : null;
}

/** A database for each unit of work: opened on use, closed (within the request) when the work is done. */
function sessionPerCall(open: () => DbHandle, background: (p: Promise<unknown>) => void): WithDb {
  return async (fn) => {
    const { db, close } = open();
    try {
      return await fn(db);
    } finally {
      background(close().catch(() => undefined));
    }
  };
}

/**
 * A database for one unit of work, opened on first use. Calls that overlap (a page's parallel
 * queries) share its one connection; it is closed, within the request, when the last one settles.
 */
function overlappingDb(open: () => DbHandle, background: (p: Promise<unknown>) => void): WithDb {
  let shared: DbHandle | null = null;
  let users = 0;
  return async (fn) => {
    const handle = (shared ??= open());
    users++;
    try {
      return await fn(handle.db);
    } finally {
      if (--users === 0) {
        shared = null;
        background(handle.close().catch(() => undefined));
      }
    }
  };
}
