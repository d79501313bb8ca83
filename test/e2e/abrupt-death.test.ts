/**
 * An abrupt death under load: SIGKILL of a gateway host and its workerd (no drain, no flush) while
 * requests run through the real openai SDK. The usage records still in the isolate's 1 s buffer die
 * with it; the durable path is the providers' outbox: every agent keeps its signed receipts and
 * sends them to the SHARED gateway (its --gateway), which shares Postgres and bills each request
 * that has a reservation and no usage event from its receipt (billFromReceipt) once the reservation
 * is RECEIPT_RECONCILE_AFTER_MS old (3 s in the e2e network's env).
 *
 * The worst case (README, "Usage on a stop"): a request whose reservation never reached Postgres —
 * the account's Durable Object batches those writes, and locally it dies with the isolate — cannot
 * be attributed to an account and stays unbilled. The test asserts exactly that: every answered
 * request has one usage event, except those whose reservation is absent from Postgres.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import pg from "pg";
import { afterAll, expect, inject, it } from "vitest";
import { spawnTs, type ReadyChild } from "../../scripts/lib/children";
import { freePort } from "../../scripts/lib/ports";
import { BILLED_FROM_RECEIPT } from "../../workers/core/metering/reconcile";

const dev = inject("dev");
const stateDir = path.dirname(dev.gatewayKeyFile);

const TOTAL = 100;
const CONCURRENCY = 8;
const MAX_TOKENS = 16;
/** The kill comes no earlier than this many answers, once an answered request is reserved in Postgres but not metered. */
const KILL_AFTER = 30;
/** How long the outbox path may take to bill what the isolate lost (receipt batches every 2 s, reconcile after 3 s). */
const RECOVER_WITHIN_MS = 30_000;

type Outcome = { kind: "ok"; id: string } | { kind: "cut"; why: string };

let gateway: ReadyChild<{ url: string }> | null = null;
let tree: number[] = [];
afterAll(() => {
  for (const pid of tree) killQuietly(pid);
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The host and every process under it (workerd), so that a SIGKILL leaves no isolate running. */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    // no children
  }
  return [pid, ...children.flatMap(processTree)];
}

/** Running (a zombie that is not reaped yet counts as dead: it runs no code). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

interface Facts {
  usage: Map<string, { n: number; errorCode: string | null; prompt: number; completion: number }>;
  reserved: Set<string>;
  receipts: Map<string, { source: string; status: string; prompt: number; completion: number }>;
}

async function facts(db: pg.Client, ids: string[]): Promise<Facts> {
  const usage = await db.query<{ request_id: string; n: string; error_code: string | null; p: number; c: number }>(
    `select request_id, count(*) as n, max(error_code) as error_code, max(prompt_tokens) as p, max(completion_tokens) as c
       from usage_events where request_id = any($1) group by request_id`,
    [ids],
  );
  const reserved = await db.query<{ request_id: string }>("select request_id from reservations where request_id = any($1)", [ids]);
  const receipts = await db.query<{ request_id: string; source: string; status: string; prompt_tokens: number; completion_tokens: number }>(
    "select request_id, source, status, prompt_tokens, completion_tokens from receipts where request_id = any($1)",
    [ids],
  );
  return {
    usage: new Map(usage.rows.map((r) => [r.request_id, { n: Number(r.n), errorCode: r.error_code, prompt: r.p, completion: r.c }])),
    reserved: new Set(reserved.rows.map((r) => r.request_id)),
    receipts: new Map(
      receipts.rows.map((r) => [
        r.request_id,
        { source: r.source, status: r.status, prompt: r.prompt_tokens, completion: r.completion_tokens },
      ]),
    ),
  };
}

it("SIGKILL under load: every answered request is metered once, from its receipt where the isolate's record died", async () => {
  const t0 = Date.now();
  const phase = (what: string) => console.log(`abrupt death: ${what} at +${Date.now() - t0} ms`);
  const logs: string[] = [];
  gateway = await spawnTs<{ url: string }>(
    "scripts/gateway.ts",
    [
      ...["--script", path.join(stateDir, "build", "index.js"), "--bindings", path.join(stateDir, "bindings.json")],
      ...["--port", String(await freePort()), "--cron-every-ms", "0"],
    ],
    { name: "gateway-3", timeoutMs: 60_000, log: (line) => logs.push(line) },
  );
  tree = processTree(gateway.pid);
  phase(`gateway ready (processes ${tree.join(", ")})`);
  expect(tree.length).toBeGreaterThan(1); // the host and its workerd
  const client = new OpenAI({ baseURL: `${gateway.ready.url}/v1`, apiKey: dev.apiKey, maxRetries: 0, timeout: 20_000 });
  const db = new pg.Client({ connectionString: dev.databaseUrl });
  await db.connect();
  try {
    const okIds: string[] = [];
    let killedAt: number | null = null;
    const kill = () => {
      if (killedAt !== null) return;
      killedAt = Date.now();
      // workerd first, then its host: no drain, no flush, no waitUntil runs to its end.
      for (const pid of [...tree].reverse()) killQuietly(pid);
      phase(`SIGKILL after ${okIds.length} answers`);
    };
    // The kill comes while an answered request is reserved in Postgres but its usage record is
    // still in the buffer: the case the outbox must repair (the test would prove nothing otherwise).
    const watcher = (async () => {
      while (killedAt === null) {
        await new Promise((r) => setTimeout(r, 25));
        if (okIds.length < KILL_AFTER) continue;
        const f = await facts(db, okIds);
        if (okIds.some((id) => f.reserved.has(id) && !f.usage.has(id)) || okIds.length >= TOTAL - CONCURRENCY) kill();
      }
    })();

    const one = async (i: number): Promise<Outcome> => {
      const ask = { model: dev.model, messages: [{ role: "user" as const, content: `kill ${i}` }], max_tokens: MAX_TOKENS };
      try {
        if (i % 2 === 0) {
          const { data: stream, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
          let finish: string | null = null;
          for await (const c of stream) finish = c.choices[0]?.finish_reason ?? finish;
          const id = response.headers.get("x-request-id") ?? "";
          return finish ? { kind: "ok", id } : { kind: "cut", why: `${id}: no finish_reason` };
        }
        const { response } = await client.chat.completions.create(ask).withResponse();
        return { kind: "ok", id: response.headers.get("x-request-id") ?? "" };
      } catch (err) {
        // Before the kill every request must succeed; after it, a cut or refused connection is expected.
        if (killedAt === null) throw err;
        return { kind: "cut", why: String(err) };
      }
    };
    let next = 0;
    const outcomes: Outcome[] = [];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TOTAL && killedAt === null) {
          const o = await one(next++);
          outcomes.push(o);
          if (o.kind === "ok" && killedAt === null) okIds.push(o.id);
        }
      }),
    );
    kill();
    await watcher;
    phase("load done");
    for (let i = 0; i < 40 && tree.some(alive); i++) await new Promise((r) => setTimeout(r, 25));
    expect(tree.filter(alive)).toEqual([]);
    const cut = outcomes.filter((o) => o.kind === "cut").length;

    // The outbox path: the shared gateway bills what the isolate lost, from the receipts.
    let f = await facts(db, okIds);
    const lostAtKill = okIds.filter((id) => !f.usage.has(id));
    const repairable = (x: Facts) => okIds.filter((id) => x.reserved.has(id) && !x.usage.has(id));
    phase(`${okIds.length} answered, ${cut} cut by the kill; ${lostAtKill.length} usage records lost, ${repairable(f).length} repairable`);
    // Done when nothing repairable is left and each bill from a receipt has its receipt stored: the
    // gateway writes the usage event first and the receipt row in the next statement.
    const billedWithoutReceipt = (x: Facts) =>
      [...x.usage.entries()].filter(([id, u]) => u.errorCode === BILLED_FROM_RECEIPT && !x.receipts.has(id));
    const deadline = Date.now() + RECOVER_WITHIN_MS;
    while ((repairable(f).length > 0 || billedWithoutReceipt(f).length > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      f = await facts(db, okIds);
    }
    phase("outbox reconciled");

    const unrecovered = okIds.filter((id) => !f.usage.has(id));
    // The worst case, exactly: what stays unbilled is what has no reservation in Postgres.
    expect(unrecovered.filter((id) => f.reserved.has(id))).toEqual([]);
    console.log(
      `abrupt death: ${lostAtKill.length - unrecovered.length} billed from receipts, ${unrecovered.length} unrecoverable (reservation never reached Postgres)`,
    );
    expect([...f.usage.entries()].filter(([, u]) => u.n !== 1)).toEqual([]);
    // Every event written from a receipt carries the receipt's signed counts, and its receipt is stored as verified.
    const fromReceipt = [...f.usage.entries()].filter(([, u]) => u.errorCode === BILLED_FROM_RECEIPT);
    expect(fromReceipt.length).toBeGreaterThan(0);
    for (const [id, u] of fromReceipt) {
      expect(lostAtKill).toContain(id);
      expect({ id, ...f.receipts.get(id) }).toEqual({
        id,
        source: "outbox",
        status: "verified",
        prompt: u.prompt,
        completion: u.completion,
      });
    }
    expect(fromReceipt.length).toBe(lostAtKill.length - unrecovered.length);
  } finally {
    await db.end();
  }
  expect(Date.now() - t0).toBeLessThan(60_000);
}, 90_000);
