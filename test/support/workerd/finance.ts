/**
 * What the Finance API tests (finance-*.test.ts) share: the requests they make, exact money
 * helpers, and the world each file seeds for itself. The files run one after another in one
 * workerd and one database (isolate: false), so every seeding makes its own accounts and its own
 * suspended provider: a second seeding leaves the first file's figures untouched. Nothing here
 * keeps state between calls, since the module itself may be shared by the files.
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { insertUsage, topUpUsage } from "../../../workers/adapters/postgres/usage";
import type { UsageRecord } from "../../../workers/core/metering/usage";
import { formatUsdc } from "../../../workers/core/money/units";
import {
  adminJson,
  BASE,
  call,
  chat,
  chatRequest,
  engine,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  setMode,
  sql,
  withDb,
} from "./gateway";

export type Key = Awaited<ReturnType<typeof newKey>>;
export type Json = Record<string, unknown>;
export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export const fin = (secret: string, path: string) =>
  SELF.fetch(`${BASE}/finance/v1${path}`, { headers: { authorization: `Bearer ${secret}` } });
export async function finJson<T = Json>(secret: string, path: string, status = 200): Promise<T> {
  const res = await fin(secret, path);
  const text = await res.text();
  expect(res.status, `${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}
const financeKey = async (accountId: string, scope?: "all") =>
  (
    await adminJson<{ secret: string }>(
      "POST",
      "/keys",
      { account_id: accountId, role: "finance", name: scope ? "operator" : "finance", ...(scope ? { scope } : {}) },
      201,
    )
  ).secret;
/** "-1.25" USDC → pico, exactly (no float touches money, even in a test). */
export const toPico = (usdc: string) => {
  const [whole = "0", frac = ""] = usdc.replace("-", "").split(".");
  const v = BigInt(whole) * 10n ** 12n + BigInt(frac.padEnd(12, "0"));
  return usdc.startsWith("-") ? -v : v;
};
export const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const today = () => Math.floor(Date.now() / DAY) * DAY;

async function usageWritten(requestId: string): Promise<void> {
  for (let i = 0; i < 100 && (await sql("select 1 from usage_events where request_id = $1", [requestId])).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An account's usage events summed in SQL, for [from, to). */
export async function eventTotals(accountId: string, from: number, to: number) {
  const [t] = await sql<Record<string, string>>(
    `
    select count(*)::text as requests, coalesce(sum(prompt_tokens), 0)::text as prompt, coalesce(sum(completion_tokens), 0)::text as completion,
      coalesce(sum(cost_pico), 0)::text as cost, (count(*) filter (where status = 'failed'))::text as failed
    from usage_events where account_id = $1 and created_at >= $2 and created_at < $3`,
    [accountId, new Date(from).toISOString(), new Date(to).toISOString()],
  );
  const n = (k: string) => t![k] ?? "0";
  return {
    requests: Number(n("requests")),
    failed_requests: Number(n("failed")),
    prompt_tokens: Number(n("prompt")),
    completion_tokens: Number(n("completion")),
    spend_usdc: formatUsdc(BigInt(n("cost"))),
  };
}

/** One file's seeded world: accounts A and B with their finance keys, an operator key, and the traffic. */
export interface FinanceWorld {
  a: Key;
  b: Key;
  aFinance: string;
  bFinance: string;
  operator: string;
  /** Served requests: four of A's, two of B's. */
  aRequests: string[];
  bRequests: string[];
  /** A suspended provider of this file alone, holding A's synthetic events. */
  finProvider: string;
  /** Its own model: nothing else routes to this provider. */
  finModel: string;
}

/**
 * Seeds a world for one file, named by `topic` (the accounts are "Finance A <topic>" and
 * "Finance B <topic>", the provider "fin-<topic>"): real traffic through the worker, a request no
 * provider could serve, synthetic events on other hours and days flushed twice, and a top-up.
 */
export async function seedFinance(topic: string): Promise<FinanceWorld> {
  const finProvider = `fin-${topic}`;
  const finModel = `finance-${topic}/model`;
  await registerProviders();
  await adminJson(
    "POST",
    "/providers",
    {
      id: finProvider,
      url: engine("wk-a").url,
      region: "local",
      models: [{ model: finModel, endpoints: ["chat"], input_price: "0.000007", output_price: "0.000009", context_length: 4096 }],
    },
    201,
  );
  await adminJson("POST", `/providers/${finProvider}/suspend`, { reason: "finance test data only" });
  await resetNetwork();
  const a = await newKey(`Finance A ${topic}`);
  const b = await newKey(`Finance B ${topic}`);
  const [aFinance, bFinance, operator] = [
    await financeKey(a.accountId),
    await financeKey(b.accountId),
    await financeKey(a.accountId, "all"),
  ];
  const aRequests: string[] = [];
  const bRequests: string[] = [];

  // Real traffic through the worker: A streams and not, on both providers; B a little.
  const served = await Promise.all([
    chat(a.secret, { max_tokens: 3 }),
    chat(a.secret, { max_tokens: 9, stream: true }),
    chat(a.secret, { max_tokens: 5 }),
    chat(a.secret, { max_tokens: 4, provider: { order: [PROVIDERS[1].id] } }),
    chat(b.secret, { max_tokens: 6 }),
    chat(b.secret, { max_tokens: 2 }),
  ]);
  for (const [i, s] of served.entries()) {
    expect(s.res.status, s.text).toBe(200);
    (i < 4 ? aRequests : bRequests).push(s.res.headers.get("x-request-id")!);
  }
  // A request no provider could serve: a failed event, counted and free.
  for (const e of ["wk-a", "wk-b"]) await setMode(engine(e), { mode: "refuse" });
  const failed = await call(chatRequest(a.secret, { max_tokens: 2 }));
  expect(failed.res.status).toBeGreaterThanOrEqual(500);
  await failed.res.text();
  await failed.settled();
  await usageWritten(failed.res.headers.get("x-request-id")!);
  await resetNetwork();

  // Events on other hours and days (a day boundary among them), flushed twice: the replay adds nothing.
  const synthetic = (over: Partial<UsageRecord>): UsageRecord => ({
    requestId: `gen-fin-${crypto.randomUUID()}`,
    keyId: a.keyId,
    accountId: a.accountId,
    providerId: finProvider,
    model: finModel,
    endpoint: "chat",
    stream: false,
    promptTokens: 100,
    completionTokens: 40,
    costPico: 100n * 7n + 40n * 9n,
    feePico: 53n,
    status: "ok",
    errorCode: null,
    receiptStatus: "none",
    ttftMs: 80,
    durationMs: 300,
    edge: "local",
    attempts: 1,
    createdAtMs: Date.now(),
    ...over,
  });
  const back = today() - 2 * DAY;
  const spread = [
    synthetic({ createdAtMs: back - 30 * 60_000, ttftMs: 30 }),
    synthetic({ createdAtMs: back + 10 * 60_000, ttftMs: 700 }),
    synthetic({ createdAtMs: back + 10 * 60_000 + 1, ttftMs: 7_000, completionTokens: 0, costPico: 700n, feePico: 35n }),
    synthetic({ createdAtMs: back + 5 * HOUR, status: "partial", ttftMs: null }),
  ];
  await withDb((db) => insertUsage(db, spread));
  await withDb((db) => insertUsage(db, [...spread, spread[0]!]));

  // A client-left request corrected to the provider's signed counts: a top-up.
  const [ev] = await sql<{ cost_pico: string; fee_pico: string; provider_id: string; prompt_tokens: number; completion_tokens: number }>(
    "select cost_pico::text, fee_pico::text, provider_id, prompt_tokens, completion_tokens from usage_events where request_id = $1",
    [aRequests[0]],
  );
  const previousCostPico = BigInt(ev!.cost_pico);
  expect(
    await withDb((db) =>
      topUpUsage(db, {
        requestId: aRequests[0]!,
        accountId: a.accountId,
        providerId: ev!.provider_id,
        promptTokens: ev!.prompt_tokens + 2,
        completionTokens: ev!.completion_tokens + 3,
        costPico: previousCostPico + 1_000_000n,
        feePico: BigInt(ev!.fee_pico) + 50_000n,
        previousCostPico,
        previousFeePico: BigInt(ev!.fee_pico),
      }),
    ),
  ).toMatchObject({ applied: true, customerPosting: { amountPico: -1_000_000n } });
  return { a, b, aFinance, bFinance, operator, aRequests, bRequests, finProvider, finModel };
}
