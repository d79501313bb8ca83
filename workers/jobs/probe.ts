/**
 * Probes every provider with a one-token request and judges each answer (core/routing/health.ts):
 * - answered: alive; the breaker closes and, for an operator-vouched provider, the probe stands in
 *   for its heartbeat;
 * - 429: alive but busy; left alone until its Retry-After (a pause, not a failure);
 * - another 4xx: alive, the probe request is wrong for that provider; logged, not a failure;
 * - no answer (connect error, reset, timeout), a 408, a redirect or a 5xx: a failure on its breaker.
 * - a stored URL the endpoint policy (core/protocol/endpoint-policy.ts) refuses: not called; a failure.
 * Each result is written the moment it lands (heartbeat, breaker, latency observation), not after
 * the slowest probe. The cron and POST /admin/v1/jobs/probe/run run this same code.
 */
import { probeRequestId } from "../core/metering/probe";
import { UpstreamError } from "../core/openai/errors";
import { checkProviderUrl } from "../core/protocol/endpoint-policy";
import { isAlive, judgeProbe, type ProbeVerdict } from "../core/routing/health";
import type { ProviderOffer } from "../core/routing/types";
import type { LatencyObservation } from "../core/routing/latency";
import type { Deps } from "../ports";

export interface ProbeResult {
  providerId: string;
  model: string;
  /** Alive: answered, busy (429) or a misfit (another 4xx); only `down` counts as a failure. */
  ok: boolean;
  verdict: ProbeVerdict["kind"];
  /** The provider's HTTP status when it refused the probe; null when it answered or never did. */
  status: number | null;
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
      probeAndLand(deps, {
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
  await deps.routes.reload();
  return results;
}

/** One probe, its result written as soon as it lands: a fast provider never waits for a slow one. */
async function probeAndLand(deps: Deps, offer: ProviderOffer): Promise<ProbeResult> {
  const startedAtMs = deps.now();
  const r = await probeOne(deps, offer, startedAtMs);
  if (r.ok) await deps.admin.markProbed([r.providerId]);
  const observation: LatencyObservation = {
    edge: deps.cfg.edgeFallback,
    providerId: r.providerId,
    model: r.model,
    ok: r.ok,
    ttftMs: r.ttftMs,
    tpotMs: null,
    atMs: startedAtMs,
  };
  deps.usage.record(null, [observation]);
  return r;
}

async function probeOne(deps: Deps, offer: ProviderOffer, startedAtMs: number): Promise<ProbeResult> {
  const chat = offer.endpoints.includes("chat");
  const body = chat
    ? { model: offer.model, messages: [{ role: "user", content: "ping" }], max_tokens: 1, temperature: 0, stream: true }
    : { model: offer.model, prompt: "ping", max_tokens: 1, temperature: 0, stream: true };
  const base = { providerId: offer.providerId, model: offer.model };
  // Registration checked the URL; checked again under today's policy before a signed request goes to it.
  const allowed = checkProviderUrl(offer.url, { allowlist: deps.cfg.providerUrlAllowlist });
  if (!allowed.ok) {
    deps.breakers.recordFailure(offer.providerId, deps.now(), startedAtMs);
    const error = `The endpoint URL is not allowed: ${allowed.reason}.`;
    return { ...base, ok: false, verdict: "down", status: null, ttftMs: null, error };
  }
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
    const ttftMs = reply.firstByteAtMs - reply.sentAtMs;
    return { ...base, ok: true, verdict: "up", status: null, ttftMs, error: null };
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    const now = deps.now();
    const verdict = judgeProbe({ answered: false, status: err.status, retryAfterMs: err.retryAfterMs }, now);
    if (verdict.kind === "down") deps.breakers.recordFailure(offer.providerId, now, startedAtMs);
    else deps.breakers.recordSuccess(offer.providerId, now);
    if (verdict.kind === "busy") deps.breakers.pause(offer.providerId, verdict.pauseUntilMs);
    if (verdict.kind === "misfit") {
      console.warn(`probe: ${offer.providerId} refused the probe with ${verdict.status} (${err.message}); alive, not counted as a failure`);
    }
    return { ...base, ok: isAlive(verdict), verdict: verdict.kind, status: err.status, ttftMs: null, error: err.message };
  }
}
