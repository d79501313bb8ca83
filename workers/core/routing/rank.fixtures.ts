/** Route tables, requests and a ranking context shared by the rankCandidates tests; NOW is their clock. */
import { BreakerBoard } from "./breaker";
import { DEFAULT_ROUTING_POLICY, type RouteRequest, type RoutingPolicy } from "./rank";
import { ProviderPreferences, type ProviderPreferencesInput } from "./steering";
import { latencyKey, type LatencyStats, type ProviderOffer, type RouteTable } from "./types";

export const NOW = 1_000_000;
/** A provider's wallet: it heartbeats itself and, with a chain, must hold stake. Offers default to none (operator-vouched). */
export const WALLET = "0x00000000000000000000000000000000000000b1";

export function offer(providerId: string, over: Partial<ProviderOffer> = {}): ProviderOffer {
  return {
    providerId,
    address: null,
    url: `http://127.0.0.1/${providerId}`,
    model: "llama",
    endpoints: ["chat", "completions"],
    inputPrice: 200_000n,
    outputPrice: 800_000n,
    contextLength: 8192,
    lastHeartbeatMs: NOW - 1_000,
    suspended: false,
    stakeOk: true,
    waitingRequests: 0,
    maxWaitingRequests: 16,
    ...over,
  };
}

export type Row = [edge: string, providerId: string, stats: Partial<LatencyStats>];

export function table(offers: ProviderOffer[], rows: Row[] = []): RouteTable {
  const latency = new Map<string, LatencyStats>();
  for (const [edge, providerId, s] of rows) {
    latency.set(latencyKey(edge, providerId, "llama"), { ttftMs: 100, tpotMs: 10, successRate: 1, samples: 10, ...s });
  }
  return { offers, latency, loadedAtMs: NOW };
}

export function req(over: Partial<Omit<RouteRequest, "steering">> & { steering?: ProviderPreferencesInput } = {}): RouteRequest {
  const { steering, ...rest } = over;
  return {
    model: "llama",
    endpoint: "chat",
    edge: "AMS",
    promptTokens: 1_000,
    maxOutputTokens: 100,
    ...rest,
    steering: steering === undefined ? undefined : ProviderPreferences.parse(steering),
  };
}

export const ctx = (over: { breakers?: BreakerBoard; policy?: RoutingPolicy } = {}) => ({
  nowMs: NOW,
  breakers: over.breakers ?? new BreakerBoard(),
  policy: over.policy ?? DEFAULT_ROUTING_POLICY,
});

export const ids = (r: { ranked: ProviderOffer[] }) => r.ranked.map((o) => o.providerId);
