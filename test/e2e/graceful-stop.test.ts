/**
 * An orderly stop under load: SIGTERM of a gateway host (scripts/gateway.ts) while a few hundred
 * requests run through the real openai SDK. Every request that got a 200 is metered exactly once
 * (0 usage events lost), a request that was running when the signal came completes, and those that
 * arrive while the worker drains get a clean, retryable 503 `server_shutting_down`.
 *
 * The test starts a gateway of its own over the shared network's bundle, bindings and Postgres (the
 * agents serve it like the shared one), so the shared gateway lives on for the files after this one.
 */
import path from "node:path";
import OpenAI from "openai";
import pg from "pg";
import { afterAll, expect, inject, it } from "vitest";
import { spawnTs, type ReadyChild } from "../../scripts/lib/children";
import { freePort } from "../../scripts/lib/ports";

const dev = inject("dev");
/** The shared network's state directory (its gateway key lives there), with its bundle and bindings. */
const stateDir = path.dirname(dev.gatewayKeyFile);

const TOTAL = 200;
const CONCURRENCY = 10;
const SIGTERM_AFTER = 80;
const MAX_TOKENS = 12;
/** A request sent this long before the signal has reached the worker: it must complete. */
const ARRIVED_MS = 150;

type Outcome =
  | { kind: "ok"; id: string; sentAtMs: number }
  | { kind: "refused"; sentAtMs: number }
  /** The gateway answered an error of its own (a provider stalled under load): not ours to judge here. */
  | { kind: "failed"; why: string; sentAtMs: number }
  | { kind: "gone"; sentAtMs: number }
  | { kind: "broken"; why: string; sentAtMs: number };

let gateway: ReadyChild<{ url: string }> | null = null;
afterAll(() => {
  gateway?.child.kill("SIGKILL");
});

it("SIGTERM under load loses no usage event, finishes what runs and refuses the rest with a clean 503", async () => {
  const logs: string[] = [];
  const t0 = Date.now();
  const phase = (what: string) => console.log(`graceful stop: ${what} at +${Date.now() - t0} ms`);
  gateway = await spawnTs<{ url: string }>(
    "scripts/gateway.ts",
    [
      ...["--script", path.join(stateDir, "build", "index.js"), "--bindings", path.join(stateDir, "bindings.json")],
      ...["--port", String(await freePort()), "--cron-every-ms", "0"],
    ],
    { name: "gateway-2", timeoutMs: 60_000, log: (line) => logs.push(line) },
  );
  phase("gateway ready");
  const child = gateway.child;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const client = new OpenAI({ baseURL: `${gateway.ready.url}/v1`, apiKey: dev.apiKey, maxRetries: 0, timeout: 20_000 });

  let sigtermAtMs: number | null = null;
  let settled = 0;
  const one = async (i: number): Promise<Outcome> => {
    const sentAtMs = Date.now();
    const ask = { model: dev.model, messages: [{ role: "user" as const, content: `stop ${i}` }], max_tokens: MAX_TOKENS };
    try {
      if (i % 2 === 0) {
        const { data: stream, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
        // A stream cut by the stop would end without its finish_reason (or throw): complete means finished.
        let finish: string | null = null;
        for await (const c of stream) finish = c.choices[0]?.finish_reason ?? finish;
        const id = response.headers.get("x-request-id") ?? "";
        return finish ? { kind: "ok", id, sentAtMs } : { kind: "broken", why: `${id}: no finish_reason`, sentAtMs };
      }
      const { response } = await client.chat.completions.create(ask).withResponse();
      return { kind: "ok", id: response.headers.get("x-request-id") ?? "", sentAtMs };
    } catch (err) {
      if (err instanceof OpenAI.APIError && err.status === 503 && err.code === "server_shutting_down") {
        expect(err.type).toBe("server_error");
        expect(err.headers?.get("retry-after")).toBe("1");
        return { kind: "refused", sentAtMs };
      }
      if (err instanceof OpenAI.APIError && err.status !== undefined && err.status !== 503)
        return { kind: "failed", why: `${i}: ${err.status} ${err.message}`, sentAtMs };
      // After the host is gone, a new connection is refused: the client knows, nothing was metered.
      if (err instanceof OpenAI.APIConnectionError && sigtermAtMs !== null) return { kind: "gone", sentAtMs };
      return { kind: "broken", why: `${i}: ${String(err)}`, sentAtMs };
    } finally {
      if (++settled === SIGTERM_AFTER) {
        sigtermAtMs = Date.now();
        phase("SIGTERM");
        child.kill("SIGTERM");
      }
    }
  };
  let next = 0;
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TOTAL) outcomes.push(await one(next++));
    }),
  );
  phase("load done");
  const code = await exited;
  phase(
    `gateway exited (${code}); its log: ${logs
      .filter((l) => !/^\[gateway-2\] \s*at /.test(l))
      .slice(-20)
      .join("\n")}`,
  );

  const sigterm = sigtermAtMs ?? 0;
  const ok = outcomes.filter((o) => o.kind === "ok");
  const refused = outcomes.filter((o) => o.kind === "refused");
  const tally = (kind: Outcome["kind"]) => outcomes.filter((o) => o.kind === kind).length;
  console.log(`graceful stop: ${ok.length} ok, ${refused.length} refused, ${tally("failed")} failed, ${tally("gone")} gone`);

  const db = new pg.Client({ connectionString: dev.databaseUrl });
  await db.connect();
  try {
    const ids = ok.map((o) => (o as { id: string }).id);
    const { rows } = await db.query<{ request_id: string; n: string }>(
      "select request_id, count(*) as n from usage_events where request_id = any($1) group by request_id",
      [ids],
    );
    const metered = new Map(rows.map((r) => [r.request_id, Number(r.n)]));
    const lost = ids.filter((id) => !metered.has(id));
    expect({ answered: ids.length, lost: lost.length }).toEqual({ answered: ids.length, lost: 0 });
    expect([...metered.values()].every((n) => n === 1)).toBe(true);
  } finally {
    await db.end();
  }
  expect(code).toBe(0);
  const late = (o: Outcome) => ({ ...o, msAfterSigterm: o.sentAtMs - sigterm });
  expect(outcomes.filter((o) => o.kind === "broken").map(late)).toEqual([]);
  // What was running when the signal came completed: not refused, not cut, not left unanswered.
  expect(outcomes.filter((o) => o.sentAtMs < sigterm - ARRIVED_MS && (o.kind === "refused" || o.kind === "gone")).map(late)).toEqual([]);
  expect(ok.length).toBeGreaterThan(0);
  expect(refused.length).toBeGreaterThan(0);
  expect(logs.filter((l) => /drain (incomplete|failed)/.test(l))).toEqual([]);
}, 90_000);
