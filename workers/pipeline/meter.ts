/**
 * Turns what the gateway saw into one usage record and the latency observations of every
 * attempt, and hands them to the batched writer. Runs after the response, never before it.
 */
import { feeSplit } from "../core/money/ledger";
import { billableTokens, priceRecord, type ObservedUsage, type UsageRecord } from "../core/metering/usage";
import type { Endpoint, ProviderOffer } from "../core/routing/types";
import type { LatencyObservation } from "../core/routing/latency";
import type { Deps, KeyRecord } from "../deps";
import type { Attempt } from "./forward";
import { judgeInlineReceipt } from "./receipts";

export interface MeterInput {
  requestId: string;
  key: KeyRecord;
  endpoint: Endpoint;
  stream: boolean;
  edge: string;
  startedAtMs: number;
  attempts: Attempt[];
  served: { offer: ProviderOffer; model: string; ttftMs: number; firstByteAtMs: number } | null;
  requestedModel: string;
  observed: ObservedUsage;
  errorCode: string | null;
  endedAtMs: number;
  /** The provider's signed receipt as received (header or final event), if any. */
  receipt: string | null;
}

const priced = (costPico: bigint, feeBps: number) => ({ costPico, feePico: feeSplit(costPico, feeBps).feePico });

export function meter(deps: Deps, m: MeterInput): UsageRecord {
  const tokens = m.served ? billableTokens(m.observed) : { promptTokens: 0, completionTokens: 0 };
  const status = !m.served ? "failed" : m.observed.complete ? "ok" : "partial";
  const rec: UsageRecord = {
    requestId: m.requestId,
    keyId: m.key.id,
    accountId: m.key.accountId,
    providerId: m.served?.offer.providerId ?? null,
    model: m.served?.model ?? m.requestedModel,
    endpoint: m.endpoint,
    stream: m.stream,
    ...tokens,
    ...priced(m.served ? priceRecord(tokens, m.served.offer) : 0n, deps.cfg.protocolFeeBps),
    status,
    errorCode: m.errorCode,
    receiptStatus: "none",
    ttftMs: m.served ? Math.round(m.served.firstByteAtMs - m.startedAtMs) : null,
    durationMs: Math.round(m.endedAtMs - m.startedAtMs),
    edge: m.edge,
    attempts: m.attempts.length,
    createdAtMs: m.startedAtMs,
  };
  deps.usage.record(rec, []);
  const observed = observations(m, tokens.completionTokens);
  // Admin-registered providers (no wallet) sign no receipts: nothing to judge.
  if (!m.served || !m.served.offer.address) {
    deps.usage.record(null, observed);
    return rec;
  }
  // Signature checks cost CPU, not the client's time: they run after the response.
  const { offer, model } = m.served;
  deps.background(judgeInlineReceipt(deps, m.receipt, offer.providerId, offer.address, {
    requestId: m.requestId, model, provider: offer.address ?? "", gateway: deps.cfg.gatewayAddress,
    inputPrice: offer.inputPrice, outputPrice: offer.outputPrice, reported: m.observed.reported, deliveredTokens: m.observed.deliveredTokens,
  }).then((verdict) => {
    deps.usage.setReceiptStatus(m.requestId, verdict.status);
    // A missing or invalid receipt counts against the provider, like a failure.
    if (verdict.status === "unverified") for (const o of observed) if (o.providerId === offer.providerId) o.ok = false;
    deps.usage.record(null, observed, verdict.row);
  }));
  return rec;
}

function observations(m: MeterInput, completionTokens: number): LatencyObservation[] {
  return m.attempts.map((a) => {
    const served = m.served && a.error === null && a.providerId === m.served.offer.providerId ? m.served : null;
    const genMs = served ? m.endedAtMs - served.firstByteAtMs : 0;
    return {
      edge: m.edge,
      providerId: a.providerId,
      model: a.model,
      // A 4xx is the request's fault, not the provider's; a stream that broke is the provider's.
      ok: a.error ? !a.error.canFailover : m.errorCode === null || m.errorCode === "client_disconnected",
      ttftMs: served ? served.ttftMs : null,
      tpotMs: served && m.stream && completionTokens > 1 ? genMs / (completionTokens - 1) : null,
    };
  });
}
