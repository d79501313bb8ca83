/**
 * The rows a route table is made of, in core's vocabulary (the loader maps Postgres rows to these):
 * a provider, its offers (one per model), and latency rows for the edges an isolate serves.
 * A full load is every provider with its offers plus the edges' latency rows; a refresh is the
 * providers that changed since the last load, each with its whole offer set (so a removed offer
 * disappears), plus the latency rows that changed.
 */
import type { Endpoint, LatencyStats } from "./types";

export interface ProviderRow {
  id: string;
  address: string | null;
  /** Without trailing slashes. */
  url: string;
  lastHeartbeatMs: number;
  /** Suspended or draining: takes nothing new. */
  suspended: boolean;
  stakeOk: boolean;
  waitingRequests: number;
  maxWaitingRequests: number;
}

export interface OfferRow {
  model: string;
  endpoints: readonly Endpoint[];
  inputPrice: bigint;
  outputPrice: bigint;
  contextLength: number;
}

export interface LatencyRow extends LatencyStats {
  edge: string;
  providerId: string;
  model: string;
}

/** One provider as the table holds it: its row and every offer it makes now ([]: none left). */
export interface ProviderState {
  provider: ProviderRow;
  offers: readonly OfferRow[];
}

export interface RouteRows {
  providers: readonly ProviderState[];
  latency: readonly LatencyRow[];
}
