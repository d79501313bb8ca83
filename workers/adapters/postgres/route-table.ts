import { eq } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { latencyStats, providerModels, providers } from "../../../db/schema";
import { latencyKey, type Endpoint, type LatencyStats, type ProviderOffer, type RouteTable } from "../../core/routing/types";

/**
 * Two queries: every provider's offers, and the latency table. `stakeOk` says whether the chain job
 * has read at least the minimum active stake for it; ranking requires it of a provider with a
 * wallet only (an operator-vouched provider needs none: core/routing/health.ts).
 */
export async function loadRouteTable(db: Db, nowMs: number, minStakeBase = 0n): Promise<RouteTable> {
  const [offers, rows] = await Promise.all([
    db.select().from(providerModels).innerJoin(providers, eq(providerModels.providerId, providers.id)),
    db.select().from(latencyStats),
  ]);
  const latency = new Map<string, LatencyStats>();
  for (const r of rows) {
    latency.set(latencyKey(r.edge, r.providerId, r.model), {
      ttftMs: r.ttftMs,
      tpotMs: r.tpotMs,
      successRate: r.successRate,
      samples: r.samples,
    });
  }
  return {
    offers: offers.map(
      ({ provider_models: m, providers: p }): ProviderOffer => ({
        providerId: p.id,
        address: p.address,
        url: p.url.replace(/\/+$/, ""),
        model: m.model,
        endpoints: m.endpoints as Endpoint[],
        inputPrice: m.inputPrice,
        outputPrice: m.outputPrice,
        contextLength: m.contextLength,
        lastHeartbeatMs: p.lastHeartbeatAt?.getTime() ?? 0,
        // A draining agent finishes what it runs and takes nothing new.
        suspended: p.suspended || p.draining,
        stakeOk: minStakeBase === 0n || (p.stakeBase !== null && p.stakeBase >= minStakeBase),
        waitingRequests: p.waitingRequests,
        maxWaitingRequests: p.maxWaitingRequests,
      }),
    ),
    latency,
    loadedAtMs: nowMs,
  };
}
