/**
 * The routing table: plain data, cached per isolate, refreshed in the background.
 * Prices are micro-USDC (USDC base units, 1e-6) per million tokens, which is exactly
 * pico-USDC (1e-12) per token: cost in pico = tokens × price, no division, no rounding.
 */
export type Endpoint = "chat" | "completions" | "embeddings";

export interface ProviderOffer {
  providerId: string;
  /** The wallet that signs this provider's receipts; null for admin-registered providers. */
  address: string | null;
  /** Base URL of the provider runtime, e.g. http://127.0.0.1:9101 (no trailing /v1). */
  url: string;
  model: string;
  endpoints: readonly Endpoint[];
  inputPrice: bigint;
  outputPrice: bigint;
  /** Largest prompt + completion the provider accepts for this model. */
  contextLength: number;
  lastHeartbeatMs: number;
  suspended: boolean;
  /** Stake at or above the network minimum (settlement issue); true until stakes exist. */
  stakeOk: boolean;
  /** Load reported by the last heartbeat or probe. */
  waitingRequests: number;
  maxWaitingRequests: number;
}

/** One latency-table row: EWMAs for an edge location × provider × model. */
export interface LatencyStats {
  ttftMs: number;
  tpotMs: number;
  successRate: number;
  samples: number;
}

/** Latency rows by latencyKey(edge, providerId, model): a Map, or the route store's typed arrays. */
export interface LatencyLookup {
  get(key: string): LatencyStats | undefined;
}

export interface RouteTable {
  offers: readonly ProviderOffer[];
  /** Keyed by latencyKey(edge, providerId, model); a loaded table holds only its isolate's edges. */
  latency: LatencyLookup;
  loadedAtMs: number;
}

export const latencyKey = (edge: string, providerId: string, model: string) => `${edge}|${providerId}|${model}`;
