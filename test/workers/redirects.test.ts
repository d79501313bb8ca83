/**
 * A provider's redirect is never followed (the request carries the gateway's signature; a redirect to
 * a metadata service or a loopback admin port must not make the gateway fetch it). A 3xx is the
 * provider failing: the request fails over to the next provider before the first byte, the redirect
 * target receives nothing, the 3xx body reaches nobody, and repeated redirects open the breaker.
 *
 * The redirect target is the other engine's `/v1/completions`, which no request of this file uses:
 * the engine counts every request on it, whatever the method (a followed 302 arrives as a GET, a
 * followed 307 as the same POST), so its counter shows whether the gateway went there.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EngineInfo } from "../support/provided-context";
import {
  adminJson,
  call,
  chat,
  chatRequest,
  engine,
  engineRequests,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  setMode,
} from "../support/workerd/gateway";

const [A, B] = PROVIDERS;
let k: Awaited<ReturnType<typeof newKey>>;

beforeAll(async () => {
  await registerProviders();
  await resetNetwork();
  k = await newKey("Redirects");
});
// Other files share the engines and this isolate's breakers: engines back to ok, breakers closed.
afterEach(resetNetwork);
afterAll(resetNetwork);

const target = () => `${engine(B.id).url}/v1/completions`;

async function requestsOn(e: EngineInfo, path: string): Promise<number> {
  const text = await (await fetch(e.metricsUrl)).text();
  const line = text.split("\n").find((l) => l.startsWith("meshgate_sim_requests_total") && l.includes(`path="${path}"`));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}
const targetRequests = () => requestsOn(engine(B.id), "/v1/completions");

async function streamed(body: Record<string, unknown> = {}): Promise<{ res: Response; text: string }> {
  const { res, settled } = await call(chatRequest(k.secret, { stream: true, ...body }));
  const text = await res.text();
  await settled();
  return { res, text };
}

describe("a provider that redirects", () => {
  it.each([302, 307])("is failed over from (%i) without the redirect being followed", async (status) => {
    await setMode(engine(A.id), { mode: "redirect", location: target(), status });
    const before = await targetRequests();
    const { res, text } = await chat(k.secret);
    expect(res.status, text).toBe(200);
    expect(res.headers.get("x-meshgate-provider")).toBe(B.id);
    expect(res.headers.get("x-meshgate-attempts")).toBe("2");
    expect(JSON.parse(text)).toMatchObject({ object: "chat.completion" });
    expect(text).not.toContain("Simulated redirect");
    expect(await targetRequests()).toBe(before);
  });

  it("is failed over from on a streamed request too", async () => {
    await setMode(engine(A.id), { mode: "redirect", location: target(), status: 308 });
    const before = await targetRequests();
    const { res, text } = await streamed();
    expect(res.status, text).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("x-meshgate-provider")).toBe(B.id);
    expect(res.headers.get("x-meshgate-attempts")).toBe("2");
    expect(text).toContain("data: [DONE]");
    expect(text).not.toContain("Simulated redirect");
    expect(await targetRequests()).toBe(before);
  });

  it("with every provider redirecting, the client gets a 502 naming the redirect, never the target's body", async () => {
    // wk-a points at a GET that answers 200 JSON (the engine's model list): followed, it would be relayed as the answer.
    const models = `${engine(B.id).url}/v1/models`;
    await setMode(engine(A.id), { mode: "redirect", location: models });
    await setMode(engine(B.id), { mode: "redirect", location: target(), status: 307 });
    const before = await targetRequests();
    for (const stream of [false, true]) {
      const { res, text } = stream ? await streamed() : await chat(k.secret, { stream: false });
      expect(res.status, text).toBe(502);
      const error = (JSON.parse(text) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("upstream_error");
      expect(error.message).toContain(`${A.id}: provider tried to redirect (302 to ${models})`);
      expect(error.message).toContain(`${B.id}: provider tried to redirect (307 to ${target()})`);
      for (const leaked of ["meshgate-simulator", '"object":"list"', "Simulated redirect"]) expect(text).not.toContain(leaked);
    }
    expect(await targetRequests()).toBe(before);
  });

  it("is not followed by the probe either: the probe reports it as the provider's failure", async () => {
    await setMode(engine(A.id), { mode: "redirect", location: target(), status: 307 });
    const before = await targetRequests();
    const { data } = await adminJson<{ data: { providerId: string; ok: boolean; error: string | null }[] }>("POST", "/jobs/probe/run");
    expect(data.find((r) => r.providerId === A.id)).toMatchObject({
      ok: false,
      error: `provider tried to redirect (307 to ${target()}); not followed`,
    });
    expect(data.find((r) => r.providerId === B.id)).toMatchObject({ ok: true });
    expect(await targetRequests()).toBe(before);
  });

  it("counts against the provider's breaker: after three redirects it is skipped", async () => {
    await setMode(engine(A.id), { mode: "redirect", location: target() });
    for (let i = 0; i < 3; i++) expect((await chat(k.secret)).res.headers.get("x-meshgate-attempts")).toBe("2");
    const a0 = await engineRequests(engine(A.id));
    const { res } = await chat(k.secret);
    expect(res.headers.get("x-meshgate-provider")).toBe(B.id);
    expect(res.headers.get("x-meshgate-attempts")).toBe("1"); // wk-a not even tried: its circuit is open
    expect(await engineRequests(engine(A.id))).toBe(a0);
  });
});
