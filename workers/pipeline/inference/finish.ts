/**
 * Finish: every inference request ends here exactly once, whatever happened — served, failed
 * before any provider answered, cut mid-stream, or left by its client. It turns what the gateway
 * saw into one usage record and the latency observations of every attempt, hands them to the
 * batched writer, judges the provider's receipt after the response, and settles the admission
 * with the real charge. Runs after the response, never before it — or at once when the client left
 * before any byte was served: `failed` / `client_disconnected`, cost 0, the reservation released.
 */
import { feeSplit } from "../../core/money/ledger";
import { billableTokens, priceRecord, type ObservedUsage, type UsageRecord } from "../../core/metering/usage";
import type { LatencyObservation } from "../../core/routing/latency";
import type { ProviderOffer } from "../../core/routing/types";
import type { Deps } from "../../ports";
import { judgeInlineReceipt } from "../receipts/inline";
import type { Admitted } from "./admit";
import type { Attempt } from "./forward";
import type { InferenceCall, InferenceRequest } from "./validate";

/** The provider that answered, and when its first byte came. */
export interface ServedBy {
  offer: ProviderOffer;
  model: string;
  ttftMs: number;
  firstByteAtMs: number;
}

/** One request as it went: who asked, for what, what was reserved, who was tried and who served. */
export interface Exchange {
  call: InferenceCall;
  req: InferenceRequest;
  admitted: Admitted;
  attempts: Attempt[];
  served: ServedBy | null;
}

/** How it ended. */
export interface Outcome {
  observed: ObservedUsage;
  /** null: a complete answer. */
  errorCode: string | null;
  endedAtMs: number;
  /** The provider's signed receipt as received (header or final event), if any. */
  receipt: string | null;
}

/**
 * Meters the request's last part and settles the admission once, with the charge of every part:
 * `prior` holds the usage records of the parts a continuation took over from (see ./continue.ts).
 */
export function finish(deps: Deps, x: Exchange, o: Outcome, prior: readonly UsageRecord[] = []): UsageRecord {
  const rec = meter(deps, x, o);
  const parts = [...prior, rec];
  x.admitted.settle(
    parts.reduce((sum, r) => sum + r.costPico, 0n),
    parts.reduce((sum, r) => sum + r.promptTokens + r.completionTokens, 0),
  );
  return rec;
}

/** One usage record and the latency observations of one exchange (one part of a request); the receipt judged after. */
export function meter(deps: Deps, x: Exchange, o: Outcome): UsageRecord {
  const rec = usageRecord(x, o, deps.cfg.protocolFeeBps);
  deps.usage.record(rec, []);
  const observed = observations(x, o, rec.completionTokens);
  // Admin-registered providers (no wallet) sign no receipts: nothing to judge.
  const signer = x.served?.offer.address;
  if (!x.served || !signer) {
    deps.usage.record(null, observed);
    return rec;
  }
  // Signature checks cost CPU, not the client's time: they run after the response.
  const { offer, model } = x.served;
  deps.background(
    judgeInlineReceipt(deps, o.receipt, offer.providerId, signer, {
      requestId: x.call.requestId,
      model,
      provider: signer,
      gateway: deps.cfg.gatewayAddress,
      inputPrice: offer.inputPrice,
      outputPrice: offer.outputPrice,
      reported: o.observed.reported,
      deliveredTokens: o.observed.deliveredTokens,
    }).then((verdict) => {
      deps.usage.setReceiptStatus(x.call.requestId, verdict.status);
      // A missing or invalid receipt counts against the provider, like a failure.
      if (verdict.status === "unverified") for (const ob of observed) if (ob.providerId === offer.providerId) ob.ok = false;
      deps.usage.record(null, observed, verdict.row);
    }),
  );
  return rec;
}

function usageRecord(x: Exchange, o: Outcome, feeBps: number): UsageRecord {
  const { call, served } = x;
  const tokens = served ? billableTokens(o.observed) : { promptTokens: 0, completionTokens: 0 };
  const costPico = served ? priceRecord(tokens, served.offer) : 0n;
  return {
    requestId: call.requestId,
    keyId: call.key.id,
    accountId: call.key.accountId,
    providerId: served?.offer.providerId ?? null,
    model: served?.model ?? x.req.models[0] ?? "",
    endpoint: x.req.endpoint,
    stream: x.req.stream,
    ...tokens,
    costPico,
    feePico: feeSplit(costPico, feeBps).feePico,
    status: !served ? "failed" : o.observed.complete ? "ok" : "partial",
    errorCode: o.errorCode,
    receiptStatus: "none",
    ttftMs: served ? Math.round(served.firstByteAtMs - call.startedAtMs) : null,
    durationMs: Math.round(o.endedAtMs - call.startedAtMs),
    edge: call.edge,
    attempts: x.attempts.length,
    createdAtMs: call.startedAtMs,
  };
}

function observations(x: Exchange, o: Outcome, completionTokens: number): LatencyObservation[] {
  // An attempt cut short because the client left says nothing about the provider: no sample.
  return x.attempts
    .filter((a) => !a.clientLeft)
    .map((a) => {
      const served = x.served && a.error === null && a.providerId === x.served.offer.providerId ? x.served : null;
      const genMs = served ? o.endedAtMs - served.firstByteAtMs : 0;
      return {
        edge: x.call.edge,
        providerId: a.providerId,
        model: a.model,
        // A 4xx is the request's fault, not the provider's; a stream that broke is the provider's.
        ok: a.error ? !a.error.canFailover : o.errorCode === null || o.errorCode === "client_disconnected",
        ttftMs: served ? served.ttftMs : null,
        tpotMs: served && x.req.stream && completionTokens > 1 ? genMs / (completionTokens - 1) : null,
        atMs: x.call.startedAtMs, // an operator's resume after this start discards it
      };
    });
}
