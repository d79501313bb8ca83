/** What e2e tests use to talk to the local network: the real openai SDK, admin calls, engine control. */
import OpenAI from "openai";
import { DEFAULT_FLUSH_POLICY } from "../../workers/adapters/usage-buffer";
import type { DevInfo, DevProvider } from "../../scripts/lib/network";

export function sdk(dev: DevInfo, apiKey = dev.apiKey): OpenAI {
  // No SDK retries: each test sees exactly what the gateway answered.
  return new OpenAI({ baseURL: dev.baseURL, apiKey, maxRetries: 0, timeout: 20_000 });
}

export async function admin(dev: DevInfo, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${dev.gatewayURL}${path}`, {
    method,
    headers: { authorization: `Bearer ${dev.adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function setMode(p: DevProvider, mode: Record<string, unknown>): Promise<void> {
  const res = await fetch(p.controlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(mode) });
  if (!res.ok) throw new Error(`control ${p.id}: ${res.status} ${await res.text()}`);
}

const USAGE_FLUSH_WINDOW_MS = DEFAULT_FLUSH_POLICY.windowMs;

/** Every engine back to normal, providers healthy again (the probe refreshes heartbeats and breakers). */
export async function resetNetwork(dev: DevInfo): Promise<void> {
  await Promise.all(dev.providers.map((p) => setMode(p, { mode: "ok" }).catch(() => undefined)));
  // The latency observations of failures a test just provoked are still in the worker's usage
  // buffer (flushed within its 1 s window); a resume before they land would be undone by them.
  await new Promise((r) => setTimeout(r, USAGE_FLUSH_WINDOW_MS + 250));
  for (const p of dev.providers) await admin(dev, "POST", `/admin/v1/providers/${p.id}/resume`);
  const res = await admin(dev, "POST", "/admin/v1/jobs/probe/run");
  if (!res.ok) throw new Error(`probe: ${res.status}`);
  // The isolate's route table is invalidated by the probe; give one refresh cycle.
}

/** Requests an engine received on an inference path, from its /metrics. */
export async function engineRequests(p: DevProvider, path = "/v1/chat/completions"): Promise<number> {
  const text = await (await fetch(p.metricsUrl)).text();
  const line = text.split("\n").find((l) => l.startsWith("meshgate_sim_requests_total") && l.includes(`path="${path}"`));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

export const byId = (dev: DevInfo, id: string): DevProvider => {
  const p = dev.providers.find((x) => x.id === id);
  if (!p) throw new Error(`no provider ${id}`);
  return p;
};
