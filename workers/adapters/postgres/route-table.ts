import { and, eq, gt, inArray, or, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { latencyStats, providerModels, providers, type Provider, type ProviderModel } from "../../../db/schema";
import type { LatencyRow, ProviderState, RouteRows } from "../../core/routing/route-rows";
import { RouteStore } from "../../core/routing/route-store";
import type { Endpoint, RouteTable } from "../../core/routing/types";

/** Rows read at `snapshotMs`, the database's clock when they were read (the next refresh reads what changed after it). */
export interface RouteRead {
  rows: RouteRows;
  snapshotMs: number;
}

/**
 * A full load: every provider with its offers, and the latency rows of these edges only (an
 * isolate serves one location; never every edge's rows). `stakeOk` says whether the chain job
 * has read at least the minimum active stake for it; ranking requires it of a provider with a
 * wallet only (an operator-vouched provider needs none: core/routing/health.ts).
 */
export async function loadRouteRows(db: Db, edges: readonly string[], minStakeBase = 0n): Promise<RouteRead> {
  const [snapshotMs, ps, offers, latency] = await Promise.all([
    dbNowMs(db),
    db.select().from(providers),
    db.select().from(providerModels),
    edges.length
      ? db
          .select()
          .from(latencyStats)
          .where(inArray(latencyStats.edge, [...edges]))
      : [],
  ]);
  return { rows: { providers: statesOf(ps, offers, minStakeBase), latency: latency.map(latencyRow) }, snapshotMs };
}

/**
 * What changed since `sinceMs` (the last snapshot less a skew, so a transaction that committed late
 * is not missed; a row read twice is applied twice, idempotently): every provider whose row moved
 * (registration, heartbeat, probe, suspension, stake) or one of whose offers did, with its whole
 * offer set (a removed offer disappears), and these edges' latency rows that moved or belong to one
 * of those providers. Deleted providers wait for the periodic full load.
 */
export async function loadRouteChanges(db: Db, edges: readonly string[], sinceMs: number, minStakeBase = 0n): Promise<RouteRead> {
  const since = new Date(sinceMs);
  const changed = db
    .select({ id: providers.id })
    .from(providers)
    .where(
      or(
        gt(providers.updatedAt, since),
        inArray(providers.id, db.select({ id: providerModels.providerId }).from(providerModels).where(gt(providerModels.updatedAt, since))),
      ),
    );
  const [snapshotMs, ps, offers, latency] = await Promise.all([
    dbNowMs(db),
    db.select().from(providers).where(inArray(providers.id, changed)),
    db.select().from(providerModels).where(inArray(providerModels.providerId, changed)),
    edges.length
      ? db
          .select()
          .from(latencyStats)
          .where(
            and(inArray(latencyStats.edge, [...edges]), or(gt(latencyStats.updatedAt, since), inArray(latencyStats.providerId, changed))),
          )
      : [],
  ]);
  return { rows: { providers: statesOf(ps, offers, minStakeBase), latency: latency.map(latencyRow) }, snapshotMs };
}

/** One more edge's latency rows, read whole (a request from another location than the isolate's). */
export async function loadEdgeLatency(db: Db, edge: string): Promise<LatencyRow[]> {
  return (await db.select().from(latencyStats).where(eq(latencyStats.edge, edge))).map(latencyRow);
}

/** A full load as one table (tools and tests). */
export async function loadRouteTable(db: Db, nowMs: number, minStakeBase = 0n, edges: readonly string[] = []): Promise<RouteTable> {
  const read = await loadRouteRows(db, edges, minStakeBase);
  return RouteStore.load(read.rows, edges, read.snapshotMs).table(nowMs);
}

async function dbNowMs(db: Db): Promise<number> {
  const [row] = await db
    .select({ ms: sql<number>`(extract(epoch from now()) * 1000)::float8`.mapWith(Number) })
    .from(sql`(select 1) as clock`);
  return row?.ms ?? 0;
}

function statesOf(ps: readonly Provider[], offers: readonly ProviderModel[], minStakeBase: bigint): ProviderState[] {
  const byProvider = new Map<string, ProviderModel[]>();
  for (const m of offers) {
    const list = byProvider.get(m.providerId);
    if (list) list.push(m);
    else byProvider.set(m.providerId, [m]);
  }
  return ps.map((p) => ({
    provider: {
      id: p.id,
      address: p.address,
      url: p.url.replace(/\/+$/, ""),
      lastHeartbeatMs: p.lastHeartbeatAt?.getTime() ?? 0,
      // A draining agent finishes what it runs and takes nothing new.
      suspended: p.suspended || p.draining,
      stakeOk: minStakeBase === 0n || (p.stakeBase !== null && p.stakeBase >= minStakeBase),
      waitingRequests: p.waitingRequests,
      maxWaitingRequests: p.maxWaitingRequests,
    },
    offers: (byProvider.get(p.id) ?? []).map((m) => ({
      model: m.model,
      endpoints: m.endpoints as Endpoint[],
      inputPrice: m.inputPrice,
      outputPrice: m.outputPrice,
      contextLength: m.contextLength,
    })),
  }));
}

const latencyRow = (r: typeof latencyStats.$inferSelect): LatencyRow => ({
  edge: r.edge,
  providerId: r.providerId,
  model: r.model,
  ttftMs: r.ttftMs,
  tpotMs: r.tpotMs,
  successRate: r.successRate,
  samples: r.samples,
});
