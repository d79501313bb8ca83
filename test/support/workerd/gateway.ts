/**
 * What the workerd tests use: the worker (SELF, or its default export with our own execution
 * context so `waitUntil` can be awaited), the admin API, SQL through the worker's own Neon driver,
 * the simulated engines' control, and the Postgres tap.
 */
import { createExecutionContext, createScheduledController, env as bindings, SELF, waitOnExecutionContext } from "cloudflare:test";
import { expect, inject } from "vitest";
import worker from "../../../workers/index";
import type { Env } from "../../../workers/config";
import { openNeonDb } from "../../../db/neon";
import type { Db } from "../../../db/client";
import { formatUsdc } from "../../../workers/core/money/units";
import type { EngineInfo } from "../provided-context";

export const env = bindings as unknown as Env;
export const model = inject("MODEL");
export const engines = inject("ENGINES");
export const BASE = "http://gateway.test";

export const engine = (id: string): EngineInfo => {
  const e = engines.find((x) => x.id === id);
  if (!e) throw new Error(`no engine ${id}`);
  return e;
};

/** Both engines serve the same model; wk-a is the cheaper. Prices: USDC per million tokens. */
export const PROVIDERS = [
  { id: "wk-a", input: "0.10", output: "0.20", inputPico: 100_000n, outputPico: 200_000n },
  { id: "wk-b", input: "0.30", output: "0.60", inputPico: 300_000n, outputPico: 600_000n },
] as const;

// ---- The admin API, through the worker ----

export async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return SELF.fetch(`${BASE}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function adminJson<T = Record<string, unknown>>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
  const res = await admin(method, path, body);
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

/** Registers both engines (idempotent upsert) at their prices. */
export async function registerProviders(): Promise<void> {
  for (const p of PROVIDERS) {
    await adminJson(
      "POST",
      "/providers",
      {
        id: p.id,
        url: engine(p.id).url,
        region: "local",
        models: [{ model, endpoints: ["chat", "completions"], input_price: p.input, output_price: p.output, context_length: 8192 }],
      },
      201,
    );
  }
}

/** An account with `creditPico` granted (none for null) and one key with these settings (rpm, tpm, budget_usdc). */
export async function fundedAccount(
  name: string,
  creditPico: bigint | null,
  key: Record<string, unknown> = {},
): Promise<{ accountId: string; keyId: string; secret: string }> {
  const a = await adminJson<{ id: string }>("POST", "/accounts", { name }, 201);
  if (creditPico !== null) await adminJson("POST", `/accounts/${a.id}/credit`, { amount_usdc: formatUsdc(creditPico) }, 201);
  const k = await adminJson<{ id: string; secret: string }>("POST", "/keys", { account_id: a.id, name, ...key }, 201);
  return { accountId: a.id, keyId: k.id, secret: k.secret };
}

export async function newKey(name: string): Promise<{ accountId: string; keyId: string; secret: string }> {
  const account = await adminJson<{ id: string }>("POST", "/accounts", { name }, 201);
  await adminJson("POST", `/accounts/${account.id}/credit`, { amount_usdc: "100" }, 201); // requests reserve against the balance
  const key = await adminJson<{ id: string; secret: string }>("POST", "/keys", { account_id: account.id, name: `${name} key` }, 201);
  return { accountId: account.id, keyId: key.id, secret: key.secret };
}

/** Engines back to normal, providers resumed and probed (fresh heartbeats, breakers closed). */
export async function resetNetwork(): Promise<void> {
  for (const e of engines) await setMode(e, { mode: "ok" });
  for (const p of PROVIDERS) await adminJson("POST", `/providers/${p.id}/resume`);
  await runScheduled();
}

// ---- Requests to the worker ----

export function chatRequest(secret: string, body: Record<string, unknown>): Request {
  return new Request(`${BASE}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Say something short" }], max_tokens: 5, ...body }),
  });
}

/**
 * Calls the worker's default export in this isolate with our own ExecutionContext. The request
 * carries no `cf`, so its edge is EDGE_FALLBACK ("local"). `settled` waits for its waitUntil work.
 */
export async function call(req: Request): Promise<{ res: Response; settled: () => Promise<void> }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(req, env, ctx);
  return { res, settled: () => waitOnExecutionContext(ctx) };
}

/**
 * A chat completion, answered and metered: its waitUntil has finished and, for a served request,
 * its usage event is in Postgres (the flush may belong to the waitUntil of an earlier request
 * of the same window, so the row is awaited rather than assumed).
 */
export async function chat(secret: string, body: Record<string, unknown> = {}): Promise<{ res: Response; text: string }> {
  const { res, settled } = await call(chatRequest(secret, body));
  const text = await res.text();
  await settled();
  const id = res.headers.get("x-request-id");
  if (res.ok && id) await untilWritten(id);
  return { res, text };
}

async function untilWritten(requestId: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await sql("select 1 from usage_events where request_id = $1", [requestId])).length === 0) {
    if (Date.now() > deadline) throw new Error(`usage event ${requestId} not written within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The cron: `scheduled()` with a controller, its waitUntil awaited. */
export async function runScheduled(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/1 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

// ---- SQL, inside workerd, through the worker's own driver (Neon over the ws proxy) ----

export async function sql<R = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
  const { query, close } = openNeonDb(env.DATABASE_URL, env.WSPROXY);
  try {
    return await query<R>(text, params);
  } finally {
    await close();
  }
}

/** The drizzle database the adapters take, for calling an adapter directly. */
export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, close } = openNeonDb(env.DATABASE_URL, env.WSPROXY);
  try {
    return await fn(db);
  } finally {
    await close();
  }
}

// ---- Engines and the Postgres tap (Node servers on loopback) ----

export async function setMode(e: EngineInfo, mode: Record<string, unknown>): Promise<void> {
  const res = await fetch(e.controlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(mode) });
  expect(res.status, `engine ${e.id} control: ${await res.clone().text()}`).toBe(200);
  await res.body?.cancel();
}

/** Inference requests an engine received on the chat path (its own counter, faults included). */
export async function engineRequests(e: EngineInfo): Promise<number> {
  const text = await (await fetch(e.metricsUrl)).text();
  const line = text.split("\n").find((l) => l.startsWith("meshgate_sim_requests_total") && l.includes('path="/v1/chat/completions"'));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

/** Polls `check` until it holds; returns the milliseconds it took, or fails after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) expect.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface TapSession {
  id: number;
  openedAtMs: number;
  held: boolean;
  releasedAtMs: number | null;
  sql: string[];
}

export const tap = {
  async sessions(): Promise<{ count: number; held: boolean; sessions: TapSession[] }> {
    return (await fetch(`${inject("TAP_URL")}/sessions`)).json();
  },
  async count(): Promise<number> {
    return (await tap.sessions()).count;
  },
  async hold(): Promise<void> {
    await (await fetch(`${inject("TAP_URL")}/hold`, { method: "POST" })).text();
  },
  async release(): Promise<void> {
    await (await fetch(`${inject("TAP_URL")}/release`, { method: "POST" })).text();
  },
};

/** What a database session did, from its SQL. */
export function sessionKind(s: TapSession): "key" | "route-table" | "usage" | "other" | "none" {
  const all = s.sql.join("\n");
  if (all === "") return "none";
  if (/from "api_keys"/i.test(all)) return "key";
  if (/from "provider_models"/i.test(all)) return "route-table";
  if (/insert into "(usage_events|latency_stats)"/i.test(all)) return "usage";
  return "other";
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Resolves to the value, or to "timeout" after ms. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return Promise.race([
    p,
    new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
