/**
 * The retry policy and the deadlines of forward, in workerd against the simulated engines: a short
 * Retry-After is waited out on the same model, a transient 500 is retried on the same model, both
 * before any fallback model; a stalled non-streamed attempt is abandoned at its documented deadline
 * (TTFT_DEADLINE_MS + 50 ms per max_tokens: 1 000 + 50 × 5 = 1 250 ms here), and the total budget
 * (TOTAL_DEADLINE_MS) ends a request no provider answers with 504 deadline_exceeded.
 *
 * The primary model is served by wk-a alone (wk-b suspended). The fallback model is registered as
 * `wk-fallback` at wk-b's engine, which serves only the primary model: a request sent there shows in
 * that engine's counter (and would answer 404), so the counter tells whether the fallback was tried.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  adminJson,
  chat,
  chatRequest,
  engine,
  engineRequests,
  env,
  model,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  setMode,
} from "../support/workerd/gateway";
import worker from "../../workers/index";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";

const [A, B] = PROVIDERS;
const FALLBACK = "retry-policy/fallback-model";
const FALLBACK_PROVIDER = "wk-fallback";
let k: Awaited<ReturnType<typeof newKey>>;

beforeAll(async () => {
  await registerProviders();
  await adminJson(
    "POST",
    "/providers",
    {
      id: FALLBACK_PROVIDER,
      url: engine(B.id).url,
      region: "local",
      models: [{ model: FALLBACK, endpoints: ["chat"], input_price: "0.01", output_price: "0.01", context_length: 8192 }],
    },
    201,
  );
  k = await newKey("Retry policy");
  await resetNetwork();
});
afterEach(resetNetwork);
afterAll(async () => {
  await adminJson("POST", `/providers/${FALLBACK_PROVIDER}/suspend`, { reason: "retry-policy test done" });
  await resetNetwork();
});

/** The primary model on wk-a only; the fallback provider probed (alive) and routable. */
async function primaryOnWkA(): Promise<void> {
  await adminJson("POST", `/providers/${FALLBACK_PROVIDER}/resume`);
  await adminJson("POST", `/providers/${B.id}/suspend`, { reason: "retry-policy: wk-a alone serves the primary" });
}

/** One request to the worker (with its own env, if given): the response, its text, and how long the answer took. */
async function timed(body: Record<string, unknown>, over: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const started = Date.now();
  // readConfig parses per env object: an override is a configuration of its own for this call.
  const res = await worker.fetch(chatRequest(k.secret, body), Object.keys(over).length ? { ...env, ...over } : env, ctx);
  const text = await res.text();
  const elapsed = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res, text, elapsed };
}

const withFallback = { models: [FALLBACK], max_tokens: 5, stream: false };

describe("the retry policy, before any fallback model", () => {
  it("waits out a 429 with Retry-After: 2 on the primary's only provider and is served by the primary", async () => {
    await primaryOnWkA();
    await setMode(engine(A.id), { mode: "status_before_first_byte", status: 429, retry_after: 2, times: 1 });
    const b0 = await engineRequests(engine(B.id));
    const started = Date.now();
    const { res, text } = await chat(k.secret, withFallback);
    const elapsed = Date.now() - started;
    expect(res.status, text).toBe(200);
    expect(res.headers.get("x-meshgate-provider")).toBe(A.id);
    expect(res.headers.get("x-meshgate-attempts")).toBe("2");
    expect(JSON.parse(text)).toMatchObject({ model });
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(4_000);
    expect(await engineRequests(engine(B.id))).toBe(b0); // the fallback was never tried
  });

  it("retries one transient 500 on the same model", async () => {
    await primaryOnWkA();
    await setMode(engine(A.id), { mode: "status_before_first_byte", status: 500, times: 1 });
    const b0 = await engineRequests(engine(B.id));
    const { res, text } = await chat(k.secret, withFallback);
    expect(res.status, text).toBe(200);
    expect(res.headers.get("x-meshgate-provider")).toBe(A.id);
    expect(res.headers.get("x-meshgate-attempts")).toBe("2");
    expect(JSON.parse(text)).toMatchObject({ model });
    expect(await engineRequests(engine(B.id))).toBe(b0);
  });
});

describe("deadlines", () => {
  it("abandons a stalled non-streamed attempt at TTFT_DEADLINE_MS + 50 ms per max_tokens", async () => {
    for (const p of PROVIDERS) await setMode(engine(p.id), { mode: "stall_before_first_byte", ms: 20_000, times: 1 });
    const { res, text, elapsed } = await timed({ max_tokens: 5, stream: false });
    expect(res.status, text).toBe(502);
    expect(text).toContain(`${A.id}: no response within 1250 ms`);
    expect(text).toContain(`${B.id}: no response within 1250 ms`);
    expect(elapsed).toBeGreaterThanOrEqual(2_400);
    expect(elapsed).toBeLessThan(3_500);
  });

  it.each([false, true])(
    "ends a request no provider answers within TOTAL_DEADLINE_MS with 504 deadline_exceeded (stream: %s)",
    async (stream) => {
      for (const p of PROVIDERS) await setMode(engine(p.id), { mode: "stall_before_first_byte", ms: 20_000, times: 1 });
      const { res, text, elapsed } = await timed({ max_tokens: 5, stream }, { TOTAL_DEADLINE_MS: "1500" });
      expect(res.status, text).toBe(504);
      expect(res.headers.get("x-should-retry")).toBe("false");
      expect(JSON.parse(text)).toMatchObject({ error: { type: "timeout", code: "deadline_exceeded" } });
      // The first attempt's deadline (1 250 ms, or 1 000 ms streamed), then the time left or none: never much past 1.5 s.
      expect(elapsed).toBeGreaterThanOrEqual(1_000);
      expect(elapsed).toBeLessThan(2_200);
    },
  );
});
