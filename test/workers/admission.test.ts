/**
 * Admission in workerd: the account's Durable Object reserves each request's worst-case cost and
 * counts it against the key's limits, so concurrent requests cannot overspend; real Postgres books.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { estimatePromptTokens } from "../../workers/core/money/estimate";
import { formatUsdc } from "../../workers/core/money/units";
import {
  adminJson,
  call,
  chatRequest,
  engine,
  env,
  fundedAccount,
  model,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  setMode,
  sql,
} from "../support/workerd/gateway";

beforeAll(registerProviders);
beforeEach(resetNetwork);

const MAX_TOKENS = 3;
const body = { model, messages: [{ role: "user", content: "Say something short" }], max_tokens: MAX_TOKENS };
/** The highest prices among the providers of the model (wk-b's), pico per token. */
const MAX_IN = PROVIDERS.reduce((m, p) => (p.inputPico > m ? p.inputPico : m), 0n);
const MAX_OUT = PROVIDERS.reduce((m, p) => (p.outputPico > m ? p.outputPico : m), 0n);

const account = fundedAccount;

/**
 * Both engines stream one token per 300 ms (first within the TTFT deadline), so a request holds its
 * reservation for about a second: every admission of a burst happens before any request settles.
 */
const slowEngines = async () => {
  for (const p of PROVIDERS) await setMode(engine(p.id), { mode: "trickle", interval_ms: 300 });
};

async function burst(secret: string, n: number, extra: Record<string, unknown> = {}) {
  const calls = await Promise.all(Array.from({ length: n }, () => call(chatRequest(secret, { max_tokens: MAX_TOKENS, ...extra }))));
  const out = await Promise.all(calls.map(async ({ res, settled }) => ({ res, text: await res.text(), settled })));
  await Promise.all(out.map((o) => o.settled()));
  return out;
}

describe("balance reservations", () => {
  it("50 parallel requests against a balance covering 5 worst cases: 5 served, the rest 402, never negative, each billed once", async () => {
    const worst = BigInt(estimatePromptTokens(body)) * MAX_IN + BigInt(MAX_TOKENS) * MAX_OUT;
    const { accountId, secret } = await account("Five requests", 5n * worst);
    await slowEngines();
    const results = await burst(secret, 50, { stream: true });
    const served = results.filter((r) => r.res.status === 200);
    const refused = results.filter((r) => r.res.status === 402);
    expect(served).toHaveLength(5);
    expect(refused).toHaveLength(45);
    for (const r of refused) {
      expect(JSON.parse(r.text)).toMatchObject({ error: { type: "insufficient_quota", code: "insufficient_quota" } });
      expect(r.res.headers.get("x-should-retry")).toBe("false");
    }
    // Every served request is in the books once; the balance is what was granted minus their costs.
    const ids = served.map((r) => r.res.headers.get("x-request-id")!);
    let rows: { request_id: string; cost_pico: string }[] = [];
    for (let i = 0; i < 60 && rows.length < ids.length; i++) {
      rows = await sql("select request_id, cost_pico::text from usage_events where request_id = any($1)", [ids]);
      if (rows.length < ids.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows).toHaveLength(5);
    const charged = rows.reduce((s, r) => s + BigInt(r.cost_pico), 0n);
    const [bal] = await sql<{ b: string; n: string }>(
      "select coalesce(sum(amount_pico), 0)::text as b, count(*)::text as n from ledger_entries where account = $1",
      [`customer:${accountId}`],
    );
    expect(BigInt(bal!.b)).toBe(5n * worst - charged);
    expect(BigInt(bal!.b)).toBeGreaterThanOrEqual(0n);
    expect(Number(bal!.n)).toBe(1 + 5); // the grant and one debit per served request
  });

  it("an account with no balance is refused before any provider is called", async () => {
    const { secret } = await account("Empty", null);
    const { res, text } = (await burst(secret, 1))[0]!;
    expect(res.status).toBe(402);
    expect(JSON.parse(text).error.message).toMatch(/balance/);
  });

  it("a key's monthly budget caps it below the account's balance", async () => {
    const worst = BigInt(estimatePromptTokens(body)) * MAX_IN + BigInt(MAX_TOKENS) * MAX_OUT;
    const { secret } = await account("Budgeted", 1_000n * worst, { budget_usdc: formatUsdc(2n * worst) });
    await slowEngines();
    const results = await burst(secret, 6, { stream: true });
    expect(results.filter((r) => r.res.status === 200)).toHaveLength(2);
    expect(JSON.parse(results.find((r) => r.res.status === 402)!.text).error.message).toMatch(/budget/);
  });
});

describe("credits reach the account's guard exactly once", () => {
  it("a grant is counted once whether the guard was loaded before it, or loads after it", async () => {
    const { accountId } = await account("Credited", 1_000n);
    const guard = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(accountId));
    expect((await guard.snapshot(accountId)).balancePico).toBe(1_000n); // loaded from the books
    await adminJson("POST", `/accounts/${accountId}/credit`, { amount_usdc: formatUsdc(500n) }, 201);
    expect((await guard.snapshot(accountId)).balancePico).toBe(1_500n); // added live
    // A credit the loaded balance already includes (an older ledger entry) is not added again.
    const [first] = await sql<{ id: string }>("select id::text from ledger_entries where account = $1 order by id limit 1", [
      `customer:${accountId}`,
    ]);
    await guard.credit(accountId, 1_000n, Number(first!.id));
    expect((await guard.snapshot(accountId)).balancePico).toBe(1_500n);
  });
});

describe("rate limits", () => {
  it("rpm 10: exactly 10 of a burst of 30 succeed, with OpenAI's headers; the rest 429 with retry-after", async () => {
    const { secret } = await account("Ten a minute", 1_000_000_000_000n, { rpm: 10 });
    const results = await burst(secret, 30);
    const ok = results.filter((r) => r.res.status === 200);
    const limited = results.filter((r) => r.res.status === 429);
    expect(ok).toHaveLength(10);
    expect(limited).toHaveLength(20);
    expect(ok.map((r) => Number(r.res.headers.get("x-ratelimit-remaining-requests"))).sort((a, b) => a - b)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    for (const r of [...ok, ...limited]) expect(r.res.headers.get("x-ratelimit-limit-requests")).toBe("10");
    const l = limited[0]!;
    expect(JSON.parse(l.text)).toMatchObject({ error: { type: "rate_limit_error", code: "rate_limit_exceeded" } });
    expect(Number(l.res.headers.get("retry-after"))).toBeGreaterThan(50);
    expect(Number(l.res.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(l.res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(l.res.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+m)?\d+s$/);
  });

  it("tpm: a burst is admitted while its prompt estimate + max_tokens fit the minute", async () => {
    const perRequest = estimatePromptTokens(body) + MAX_TOKENS;
    const { secret } = await account("Token limited", 1_000_000_000_000n, { tpm: perRequest * 4 + 1 });
    await slowEngines();
    const results = await burst(secret, 10, { stream: true });
    expect(results.filter((r) => r.res.status === 200)).toHaveLength(4);
    const limited = results.filter((r) => r.res.status === 429);
    expect(limited).toHaveLength(6);
    expect(limited[0]!.res.headers.get("x-ratelimit-limit-tokens")).toBe(String(perRequest * 4 + 1));
    expect(JSON.parse(limited[0]!.text).error.message).toMatch(/tokens per minute/);
  });
});
