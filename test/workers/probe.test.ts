/**
 * The probe's policy and operator-vouched providers (wk-a and wk-b are registered through the admin
 * API: no wallet, so the probe alone keeps them alive): a 429 or another 4xx is not a health
 * failure, a probe keeps a provider fresh across the probe interval, each result lands as soon as
 * it is in, no stake is asked of them with a chain, and an operator's resume is not undone by
 * observations of attempts begun before it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadRouteTable } from "../../workers/adapters/postgres/route-table";
import { upsertLatency } from "../../workers/adapters/postgres/usage";
import { aggregateObservations, type LatencyObservation } from "../../workers/core/routing/latency";
import { DEFAULT_ROUTING_POLICY, rankCandidates } from "../../workers/core/routing/rank";
import { BreakerBoard } from "../../workers/core/routing/breaker";
import {
  admin,
  adminJson,
  chat,
  engine,
  model,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  setMode,
  sql,
  until,
  withDb,
} from "../support/workerd/gateway";

const [A, B] = PROVIDERS;
let k: Awaited<ReturnType<typeof newKey>>;

beforeAll(async () => {
  await registerProviders();
  await resetNetwork();
  k = await newKey("Probe policy");
});
// Other files share the engines and this isolate's breakers: engines back to ok, breakers closed.
afterEach(resetNetwork);
afterAll(resetNetwork);

interface Result {
  providerId: string;
  ok: boolean;
  verdict: string;
  status: number | null;
  error: string | null;
}
const probe = async () => (await adminJson<{ data: Result[] }>("POST", "/jobs/probe/run")).data;
const servedBy = async () => (await chat(k.secret)).res.headers.get("x-meshgate-provider");
const staleA = () => sql("update providers set last_heartbeat_at = now() - interval '1 hour' where id = $1", [A.id]);
const freshA = async () =>
  (await sql<{ fresh: boolean }>("select last_heartbeat_at > now() - interval '1 minute' as fresh from providers where id = $1", [A.id]))[0]
    ?.fresh === true;

describe("a probe refused with a 4xx or a 429", () => {
  it.each([
    [400, "misfit"],
    [404, "misfit"],
    [429, "busy"],
  ] as const)("(%i) does not lock the provider out: alive, heartbeat refreshed, breaker closed", async (status, verdict) => {
    await staleA();
    await setMode(engine(A.id), { mode: "status_before_first_byte", status, ...(status === 429 ? { retry_after: 1 } : {}) });
    for (let i = 0; i < 3; i++) {
      // three in a row would open the breaker if they counted as failures
      expect((await probe()).find((r) => r.providerId === A.id)).toMatchObject({ ok: true, verdict, status });
    }
    expect(await freshA()).toBe(true);
    await setMode(engine(A.id), { mode: "ok" });
    // A 429's Retry-After (1 s) is honoured as a pause; then the provider serves again.
    await until("wk-a serves again", async () => (await servedBy()) === A.id, 5_000);
  });

  it("a 5xx still counts: the provider is not refreshed", async () => {
    await staleA();
    await setMode(engine(A.id), { mode: "status_before_first_byte", status: 503 });
    expect((await probe()).find((r) => r.providerId === A.id)).toMatchObject({ ok: false, verdict: "down", status: 503 });
    expect(await freshA()).toBe(false);
  });
});

describe("freshness of an operator-vouched provider", () => {
  /** Past the route cache (ROUTE_CACHE_MS = 200): one request refreshes it (in its waitUntil), the next reads the new table. */
  async function refreshedRoutes(): Promise<void> {
    await new Promise((r) => setTimeout(r, 300));
    await chat(k.secret);
  }

  it("a healthy one probed a whole probe interval ago (60 s) and more is still routable", async () => {
    await sql("update providers set last_heartbeat_at = now() - interval '75 seconds' where id = $1", [A.id]);
    await refreshedRoutes();
    expect(await servedBy()).toBe(A.id);
  });

  it("one not probed for 2.5 probe intervals is not", async () => {
    await sql("update providers set last_heartbeat_at = now() - interval '151 seconds' where id = $1", [A.id]);
    await refreshedRoutes();
    expect(await servedBy()).toBe(B.id);
  });
});

describe("each probe's result", () => {
  it("lands as soon as that probe does, not after the slowest", async () => {
    await staleA();
    await setMode(engine(B.id), { mode: "stall_before_first_byte", ms: 900, times: 1 }); // under the 1 s probe deadline
    let done = false;
    const run = admin("POST", "/jobs/probe/run").then(async (res) => {
      done = true;
      return res;
    });
    const tookMs = await until("wk-a's probe result is written", freshA, 3_000);
    expect(done).toBe(false);
    expect(tookMs).toBeLessThan(700);
    const res = await run;
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe("with a chain configured (a minimum stake)", () => {
  it("an operator-vouched provider is routable without stake; a provider with a wallet is not", async () => {
    const now = Date.now();
    const table = await withDb((db) => loadRouteTable(db, now, 1_000_000n));
    const ours = table.offers.filter((o) => o.model === model && (o.providerId === A.id || o.providerId === B.id));
    expect(ours.map((o) => [o.providerId, o.address, o.stakeOk])).toEqual(
      expect.arrayContaining([
        [A.id, null, false],
        [B.id, null, false],
      ]),
    );
    const wallet = { ...ours[0]!, providerId: "with-wallet", address: "0x00000000000000000000000000000000000000b1" };
    const ranked = rankCandidates(
      { ...table, offers: [...ours, wallet] },
      { model, endpoint: "chat", edge: "local", promptTokens: 10, maxOutputTokens: 5, steering: undefined },
      { nowMs: now, breakers: new BreakerBoard(), policy: DEFAULT_ROUTING_POLICY },
    );
    expect(ranked.ranked.map((o) => o.providerId)).toEqual([A.id, B.id]);
    expect(ranked.excluded).toEqual([{ providerId: "with-wallet", reason: "no_stake" }]);
  });
});

describe("an operator's resume", () => {
  it("is not undone by observations of attempts begun before it", async () => {
    await adminJson("POST", `/providers/${A.id}/suspend`, { reason: "broken" });
    const beforeResumeMs = Date.now() - 1_000;
    await adminJson("POST", `/providers/${A.id}/resume`);
    // Requests that failed on wk-a before the operator fixed it, flushed only now.
    const stale = Array.from(
      { length: 10 },
      (): LatencyObservation => ({
        edge: "local",
        providerId: A.id,
        model,
        ok: false,
        ttftMs: null,
        tpotMs: null,
        atMs: beforeResumeMs,
      }),
    );
    await withDb((db) => upsertLatency(db, aggregateObservations(stale)));
    const stats = async () =>
      (
        await sql<{ success_rate: number; samples: number }>(
          "select success_rate, samples from latency_stats where edge = 'local' and provider_id = $1 and model = $2",
          [A.id, model],
        )
      )[0];
    expect(await stats()).toMatchObject({ success_rate: 1, samples: 0 });

    // An observation begun after the resume counts as usual.
    await withDb((db) => upsertLatency(db, aggregateObservations([{ ...stale[0]!, ok: true, ttftMs: 40, atMs: Date.now() }])));
    expect(await stats()).toMatchObject({ success_rate: 1, samples: 1 });
    expect(await servedBy()).toBe(A.id);
  });
});
