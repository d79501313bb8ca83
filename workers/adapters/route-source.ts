/**
 * The isolate's route table: a route store (core/routing/route-store.ts) loaded once for the edge
 * this isolate serves (its first request's, or the configured fallback), then refreshed with the
 * rows changed since the last snapshot (the database's clock, less a skew), and loaded whole again
 * every FULL_RELOAD_MS as a safety net (a deleted provider, a missed write). A request from another
 * edge (rare: tests, wrangler dev) has that edge's latency rows read once and added, never every edge.
 * Served stale-while-revalidate like every isolate cache (isolate-cache.ts).
 */
import type { WithDb } from "../../db/client";
import { RouteStore } from "../core/routing/route-store";
import type { RouteTable } from "../core/routing/types";
import { SwrValue } from "./isolate-cache";
import { loadEdgeLatency, loadRouteChanges, loadRouteRows } from "./postgres/route-table";

/** A full load this often, whatever the refreshes did. */
export const FULL_RELOAD_MS = 5 * 60_000;
/** How far before the last snapshot a refresh reads: a transaction that committed late is not missed. */
export const REFRESH_SKEW_MS = 5_000;

export class RouteSource {
  private store: RouteStore | undefined;
  private fullAtMs = 0;
  private readonly cache: SwrValue<RouteTable>;

  constructor(
    freshMs: number,
    maxStaleMs: number,
    private readonly fallbackEdge: string,
    private readonly minStakeBase: bigint,
    private readonly fullEveryMs = FULL_RELOAD_MS,
  ) {
    this.cache = new SwrValue(freshMs, maxStaleMs);
  }

  /** The table for a request from `edge` (undefined: any edge will do, e.g. the model list). */
  async get(nowMs: number, edge: string | undefined, withDb: WithDb, background: (p: Promise<unknown>) => void): Promise<RouteTable> {
    const table = await this.cache.get(nowMs, () => this.refresh(nowMs, edge, withDb), background);
    const store = this.store;
    if (edge === undefined || !store || store.hasEdge(edge)) return table;
    // The table reads its store's latency rows live: once added, this edge's rows are in it.
    const rows = await withDb((db) => loadEdgeLatency(db, edge));
    store.addEdge(edge, rows);
    return table;
  }

  invalidate(): void {
    this.cache.invalidate();
  }

  /** Refreshes now and waits for it (an operator's action, the probe's verdicts). */
  async reload(nowMs: number, withDb: WithDb): Promise<void> {
    await this.cache.reload(nowMs, () => this.refresh(nowMs, undefined, withDb));
  }

  private async refresh(nowMs: number, edge: string | undefined, withDb: WithDb): Promise<RouteTable> {
    const store = this.store;
    if (!store || nowMs - this.fullAtMs >= this.fullEveryMs) {
      const edges = store ? [...new Set([...store.edgeNames, ...(edge ? [edge] : [])])] : [edge ?? this.fallbackEdge];
      const read = await withDb((db) => loadRouteRows(db, edges, this.minStakeBase));
      if (!this.store || this.store.snapshotMs <= read.snapshotMs) {
        this.store = RouteStore.load(read.rows, edges, read.snapshotMs);
        this.fullAtMs = nowMs;
      }
      return this.store.table(nowMs);
    }
    const read = await withDb((db) => loadRouteChanges(db, store.edgeNames, store.snapshotMs - REFRESH_SKEW_MS, this.minStakeBase));
    // A full load that landed meanwhile replaced the store: these rows are older than it.
    if (this.store === store) store.apply(read.rows, read.snapshotMs);
    return this.store!.table(nowMs);
  }
}
