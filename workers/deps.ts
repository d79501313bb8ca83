/**
 * The ports the pipeline uses, and depsFor(), which wires them to adapters for one request.
 * Caches live per isolate (plain data); database pools live per unit of work.
 */
import type { Config } from "./env";
import type { RouteTable } from "./core/routing/types";
import type { BreakerBoard } from "./core/routing/breaker";
import type { UsageRecord } from "./core/metering/usage";
import type { UpstreamSender } from "./adapters/upstream";
import type { LatencyObservation } from "./core/routing/latency";
import type { AdminStore } from "./adapters/postgres/admin";
import type { BilledUsage, Heartbeat, NewReceipt, RegisterOutcome, Registration } from "./adapters/postgres/registry";
import type { ReceiptRow } from "../db/schema";

export interface RegistryStore {
  register(r: Registration): Promise<RegisterOutcome>;
  heartbeat(h: Heartbeat): Promise<"ok" | "unknown" | "stale">;
  providerByAddress(address: string): Promise<{ id: string; address: string | null } | null>;
  storeReceipts(rows: NewReceipt[]): Promise<string[]>;
  usageFor(requestIds: string[]): Promise<Map<string, BilledUsage>>;
  topUpUsage(t: Parameters<typeof topUpUsage>[1]): Promise<TopUp>;
  storedReceipts(requestIds: string[]): Promise<Map<string, { digest: string; signature: string }>>;
  reservationsFor(requestIds: string[]): Promise<Awaited<ReturnType<typeof reservationsFor>>>;
  receiptFor(requestId: string): Promise<ReceiptRow | null>;
}

export interface KeyRecord {
  id: string;
  accountId: string;
  role: "inference" | "finance";
  /** account: sees its own account; all: an operator's finance key (every account, the provider side). */
  scope: "account" | "all";
  revoked: boolean;
  allowedModels: string[] | null;
  /** Requests and tokens per minute; null: no limit. */
  rpm: number | null;
  tpm: number | null;
  /** The key's spending cap per calendar month (pico-USDC); null: the account balance only. */
  budgetPico: bigint | null;
  secretHash: string;
}

export interface Deps {
  cfg: Config;
  /** Milliseconds; the one clock the pipeline reads. */
  now: () => number;
  keys: { bySecretHash(hash: string): Promise<KeyRecord | null>; invalidateAll(): void };
  routes: { table(): Promise<RouteTable>; invalidate(): void };
  admin: AdminStore;
  registry: RegistryStore;
  /** The Ed25519 public key (raw, base64url) providers verify our requests with. */
  gatewayPublicKey(): Promise<string>;
  breakers: BreakerBoard;
  upstream: UpstreamSender;
  usage: {
    /** Queues a usage record; written off the critical path, batched, idempotent on request id. */
    record(rec: UsageRecord | null, observations: LatencyObservation[], receipt?: NewReceipt | null): void;
    /** Sets a usage event's receipt verdict, buffered or already written. */
    setReceiptStatus(requestId: string, status: UsageRecord["receiptStatus"]): void;
    byRequestId(requestId: string, accountId: string): Promise<UsageRecord | null>;
  };
  /** The account's Durable Object: reservations, budgets and rate limits (workers/guard). */
  guard: {
    admit(accountId: string, req: GuardAdmit): Promise<Decision>;
    /** Queued: rides on the account's next admission, or goes in one call per window. */
    settle(accountId: string, requestId: string, chargePico: bigint, tokens: number): void;
    credit(accountId: string, amountPico: bigint, entryId: number): Promise<void>;
  };
  /** Keeps work alive after the response (ctx.waitUntil). */
  background(p: Promise<unknown>): void;
  /** A database for one unit of work (the scheduled jobs); closed when `fn` settles. */
  withDb<T>(fn: (db: Db) => Promise<T>): Promise<T>;
}

// ---- Wiring for workerd: caches per isolate, database per unit of work. ----
import { readConfig, type Env } from "./env";
import { SwrMap, SwrValue } from "./adapters/isolate-cache";
import { BreakerBoard as Breakers } from "./core/routing/breaker";
import { httpUpstream } from "./adapters/upstream";
import { UsageBuffer } from "./adapters/usage-buffer";
import { SettleQueue } from "./adapters/settle-queue";
import { openDb } from "./adapters/postgres/neon";
import { findKeyByHash } from "./adapters/postgres/keys";
import { loadRouteTable } from "./adapters/postgres/route-table";
import { findUsage, topUpUsage, type TopUp } from "./adapters/postgres/usage";
import { adminStore } from "./adapters/postgres/admin";
import { providerByAddress, receiptFor, recordHeartbeat, registerProvider, reservationsFor, storedReceipts, storeReceipts, usageFor } from "./adapters/postgres/registry";
import { importGatewaySigningKey, signGatewayRequest } from "./core/protocol/gateway-auth";
import { publicKeyOf } from "./core/protocol/public-key";
import type { Db } from "../db/client";
import type { Decision } from "./core/money/admission";
import type { GuardAdmit } from "./guard/account-guard";

let isolate: {
  keyCache: SwrMap<KeyRecord | null>;
  routeTable: SwrValue<RouteTable>;
  breakers: Breakers;
  usage: UsageBuffer;
  settles: SettleQueue;
  /** Imported once per isolate; a CryptoKey is data, not an I/O object. */
  signingKey?: CryptoKey;
  publicKey?: string;
} | undefined;

export function depsFor(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): Deps {
  const cfg = readConfig(env);
  isolate ??= {
    // Key records: fresh for KEY_CACHE_MS, then served while one background refresh re-reads them
    // (a revoked key stops within seconds); after a minute unused, the next request waits.
    keyCache: new SwrMap(cfg.keyCacheMs, 60_000),
    // Serve a stale table while one refresh runs, but never one so old that every heartbeat in it looks stale.
    routeTable: new SwrValue(cfg.routeCacheMs, Math.max(cfg.routeCacheMs, cfg.heartbeatFreshMs / 2)),
    breakers: new Breakers(),
    usage: new UsageBuffer(),
    settles: new SettleQueue(),
  };
  const state = isolate;
  const background = (p: Promise<unknown>) => ctx.waitUntil(p);
  /** A database for one unit of work: opened on use, closed when the work is done. */
  const withDb = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
    const { db, end } = openDb(cfg.databaseUrl, cfg.wsProxy);
    try {
      return await fn(db as unknown as Db);
    } finally {
      ctx.waitUntil(end().catch(() => undefined));
    }
  };
  const now = Date.now;
  const loadTable = () => state.routeTable.get(now(), () => withDb((db) => loadRouteTable(db, now(), cfg.chain?.minStakeBase ?? 0n)), background);
  return {
    cfg, now, background, withDb,
    keys: {
      bySecretHash: (hash) => state.keyCache.get(hash, now(), () => withDb((db) => findKeyByHash(db, hash)), background),
      invalidateAll: () => state.keyCache.clear(),
    },
    routes: {
      table: loadTable,
      // After an admin change or a probe: refresh now, in the background, so the change shows at once.
      invalidate: () => {
        state.routeTable.invalidate();
        background(loadTable().catch(() => undefined));
      },
    },
    breakers: state.breakers,
    upstream: httpUpstream(fetch, now, async (req) => {
      state.signingKey ??= await importGatewaySigningKey(cfg.gatewayRequestKey);
      return signGatewayRequest(state.signingKey, { ...req, timestampMs: now() });
    }),
    gatewayPublicKey: async () => (state.publicKey ??= await publicKeyOf(cfg.gatewayRequestKey)),
    usage: {
      record: (rec, obs, receipt) => state.usage.push(rec, obs, receipt ?? null, background, withDb),
      setReceiptStatus: (id, status) => state.usage.setReceiptStatus(id, status, background, withDb),
      byRequestId: async (id, accountId) => {
        const pending = state.usage.find(id);
        if (pending) return pending.accountId === accountId ? pending : null;
        return withDb((db) => findUsage(db, id, accountId));
      },
    },
    admin: lazyAdmin(withDb),
    guard: {
      admit: (accountId, req) => guardOf(env, accountId).admit(accountId, req, state.settles.take(accountId)),
      settle: (accountId, requestId, chargePico, tokens) =>
        state.settles.push(accountId, { requestId, chargePico, tokens }, background, (acct, items) => guardOf(env, acct).settleMany(acct, items)),
      credit: (accountId, amountPico, entryId) => guardOf(env, accountId).credit(accountId, amountPico, entryId),
    },
    registry: {
      register: (r) => withDb((db) => registerProvider(db, r)),
      heartbeat: (h) => withDb((db) => recordHeartbeat(db, h)),
      providerByAddress: (a) => withDb((db) => providerByAddress(db, a)),
      storeReceipts: (rows) => withDb((db) => storeReceipts(db, rows)),
      usageFor: (ids) => withDb((db) => usageFor(db, ids)),
      storedReceipts: (ids) => withDb((db) => storedReceipts(db, ids)),
      reservationsFor: (ids) => withDb((db) => reservationsFor(db, ids)),
      topUpUsage: (t) => withDb((db) => topUpUsage(db, t)),
      receiptFor: (id) => withDb((db) => receiptFor(db, id)),
    },
  };
}

/** The admin store, each call in its own short database session. */
const guardOf = (env: Env, accountId: string) => env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(accountId));

function lazyAdmin(withDb: <T>(fn: (db: Db) => Promise<T>) => Promise<T>): AdminStore {
  return new Proxy({} as AdminStore, {
    get: (_t, name: keyof AdminStore) => (...args: unknown[]) =>
      withDb((db) => (adminStore(db)[name] as (...a: unknown[]) => Promise<unknown>)(...args)),
  });
}
