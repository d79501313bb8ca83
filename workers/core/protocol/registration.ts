/** The provider registry's records: a self-registration, a heartbeat, and an operator's upsert. */

export interface Registration {
  id: string;
  address: string;
  /** The endpoint, normalised (endpoint-challenge.ts): one endpoint belongs to one provider. */
  url: string;
  region: string;
  gpu: Record<string, unknown> | null;
  maxConcurrency: number;
  messageAtMs: number;
  models: { model: string; endpoints: string[]; inputPrice: bigint; outputPrice: bigint; contextLength: number }[];
}

export type RegisterOutcome = "created" | "updated" | "address_mismatch" | "address_in_use" | "endpoint_taken" | "stale";

/** Who holds an endpoint now (its self-registered provider), if anyone. */
export interface EndpointHolder {
  id: string;
  address: string | null;
}

export interface Heartbeat {
  id: string;
  address: string;
  messageAtMs: number;
  running: number;
  waiting: number;
  kvCacheUsage: number;
  tokensServed: bigint;
  draining: boolean;
}

/** An operator's registration or update of a provider (the admin API). */
export interface ProviderUpsert {
  id: string;
  url: string;
  region: string;
  address: string | null;
  maxWaitingRequests: number;
  models: { model: string; endpoints: string[]; inputPrice: bigint; outputPrice: bigint; contextLength: number }[];
}
