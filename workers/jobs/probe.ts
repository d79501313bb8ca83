/**
 * Probes every provider with a one-token request: a success refreshes its health and a
 * failure counts against its breaker, and both feed the latency table. The cron and
 * POST /admin/v1/jobs/probe/run run this same code.
 */
import { probeRequestId } from "../core/metering/probe";
import { UpstreamError } from "../core/openai/errors";
import type { ProviderOffer } from "../core/routing/types";
import type { LatencyObservation } from "../core/routing/latency";
import type { Deps } from "../ports";

export interface ProbeResult {
  providerId: string;
  model: string;
  ok: boolean;
  ttftMs: number | null;
  error: string | null;
}

export async function runProbe(deps: Deps): Promise<ProbeResult[]> {
  const providers = await deps.admin.listProviders();
  const offers = providers
    .filter((p) => !p.suspended)
    .flatMap((p) => {
      const m = p.models.find((x) => x.endpoints.includes("chat")) ?? p.models.find((x) => x.endpoints.includes("completions"));
      return m ? [{ p, m }] : [];
    });
  const results = await Promise.all(
    offers.map(({ p, m }) =>
      probeOne(deps, {
        providerId: p.id,
        address: p.address,
        url: p.url.replace(/\/+$/, ""),
        model: m.model,
        endpoints: m.endpoints as ProviderOffer["endpoints"],
        inputPrice: m.inputPrice,
        outputPrice: m.outputPrice,
        contextLength: m.contextLength,
        lastHeartbeatMs: 0,
        suspended: false,
        stakeOk: true,
        waitingRequests: 0,
        maxWaitingRequests: p.maxWaitingRequests,
      }),
    ),
  );
  await deps.admin.markProbed(results.filter((r) => r.ok).map((r) => r.providerId));
  deps.usage.record(
    null,
    results.map(
      (r): LatencyObservation => ({
        edge: deps.cfg.edgeFallback,
        providerId: r.providerId,
        model: r.model,
        ok: r.ok,
        ttftMs: r.ttftMs,
        tpotMs: null,
      }),
    ),
  );
  await deps.routes.reload();
  return results;
}

async function probeOne(deps: Deps, offer: ProviderOffer): Promise<ProbeResult> {
  const chat = offer.endpoints.includes("chat");
  const body = chat
    ? { model: offer.model, messages: [{ role: "user", content: "ping" }], max_tokens: 1, temperature: 0, stream: true }
    : { model: offer.model, prompt: "ping", max_tokens: 1, temperature: 0, stream: true };
  try {
    const reply = await deps.upstream.send({
      offer,
      path: chat ? "/v1/chat/completions" : "/v1/completions",
      body: JSON.stringify(body),
      stream: true,
      requestId: probeRequestId(crypto.randomUUID()),
      deadlineMs: deps.cfg.ttftDeadlineMs,
    });
    if (reply.kind === "stream") await reply.reader.cancel().catch(() => undefined);
    deps.breakers.recordSuccess(offer.providerId, deps.now());
    return { providerId: offer.providerId, model: offer.model, ok: true, ttftMs: reply.firstByteAtMs - reply.sentAtMs, error: null };
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    deps.breakers.recordFailure(offer.providerId, deps.now());
    return { providerId: offer.providerId, model: offer.model, ok: false, ttftMs: null, error: err.message };
  }
}
