/** The gateway's admin API as the bench uses it: probes (heartbeats go stale after 30 s) and which engine serves. */
import type { DevInfo } from "../../scripts/lib/network";
import type { Target } from "./load";

export function adminOf(info: DevInfo) {
  const call = async (p: string) => {
    const res = await fetch(`${info.gatewayURL}${p}`, { method: "POST", headers: { authorization: `Bearer ${info.adminToken}` } });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${p} → ${res.status}: ${text}`);
    return JSON.parse(text) as { data?: { providerId: string; ok: boolean; error: string | null }[] };
  };
  const probe = async () => {
    const r = await call("/admin/v1/jobs/probe/run");
    const failed = (r.data ?? []).filter((x) => !x.ok);
    if (failed.length) throw new Error(`probe failed: ${failed.map((f) => `${f.providerId}: ${f.error}`).join("; ")}`);
  };
  /** Suspends every other engine, probes, and waits until each gateway (own route cache) routes to `id`. */
  const serveOnly = async (id: string, ...checks: Target[]) => {
    for (const p of info.providers) await call(`/admin/v1/providers/${p.id}/${p.id === id ? "resume" : "suspend"}`);
    await probe();
    for (const check of checks) await routesTo(id, check);
  };
  const routesTo = async (id: string, check: Target) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(check.url, { method: "POST", headers: check.headers, body: check.body });
      await res.arrayBuffer();
      const served = res.headers.get("x-meshgate-provider");
      if (res.ok && served === id) return;
      if (Date.now() > deadline) throw new Error(`the gateway still routes to ${served} (status ${res.status}), not ${id}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { probe, serveOnly, routesTo };
}
