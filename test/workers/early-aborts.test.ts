/**
 * Clients that leave before the first byte, in workerd: the provider's request is aborted at once,
 * nothing is retried on another provider, the request is metered (`failed`, `client_disconnected`,
 * cost 0) and its reservation in the account's Durable Object is released within seconds — so a
 * burst of early aborts cannot exhaust an account that still has the money (phantom exhaustion).
 */
import { SELF } from "cloudflare:test";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { estimatePromptTokens } from "../../workers/core/money/estimate";
import { formatUsdc } from "../../workers/core/money/units";
import {
  adminJson,
  chatRequest,
  engine,
  engineRequests,
  env,
  model,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  setMode,
  sql,
  tap,
  until,
} from "../support/workerd/gateway";

beforeAll(registerProviders);
beforeEach(resetNetwork);
afterEach(() => tap.release());

const MAX_TOKENS = 3;
const body = { model, messages: [{ role: "user", content: "Say something short" }], max_tokens: MAX_TOKENS };
const MAX_IN = PROVIDERS.reduce((m, p) => (p.inputPico > m ? p.inputPico : m), 0n);
const MAX_OUT = PROVIDERS.reduce((m, p) => (p.outputPico > m ? p.outputPico : m), 0n);
const WORST = BigInt(estimatePromptTokens(body)) * MAX_IN + BigInt(MAX_TOKENS) * MAX_OUT;
/** Worst-case requests the balance covers at once. */
const N = 8;
const ABORTS = 200;
const [A, B] = PROVIDERS;

async function account(name: string, key: Record<string, unknown> = {}) {
  const a = await adminJson<{ id: string }>("POST", "/accounts", { name }, 201);
  await adminJson("POST", `/accounts/${a.id}/credit`, { amount_usdc: formatUsdc(BigInt(N) * WORST) }, 201);
  const k = await adminJson<{ id: string; secret: string }>("POST", "/keys", { account_id: a.id, name, ...key }, 201);
  return { accountId: a.id, secret: k.secret };
}

const guard = (accountId: string) => env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(accountId));
const totalEngineRequests = async () => (await engineRequests(engine(A.id))) + (await engineRequests(engine(B.id)));

/** `n` requests that reach a stalled engine, then leave (client abort) before any byte came back. */
async function abortWave(secret: string, n: number, stream: boolean): Promise<void> {
  const before = await totalEngineRequests();
  const controllers = Array.from({ length: n }, () => new AbortController());
  const pending = controllers.map((ac) =>
    SELF.fetch(chatRequest(secret, { max_tokens: MAX_TOKENS, stream }), { signal: ac.signal }).then(
      (res) => `answered ${res.status}`,
      (err: unknown) => (err instanceof Error && err.name === "AbortError" ? "aborted" : `failed: ${String(err)}`),
    ),
  );
  // Every request was admitted and is waiting on the engine's headers: the window before the first byte.
  await until("the engine received the wave", async () => (await totalEngineRequests()) - before >= n, 5_000);
  for (const ac of controllers) ac.abort();
  expect(await Promise.all(pending)).toEqual(Array(n).fill("aborted"));
}

describe("clients that leave before the first byte", () => {
  it(`${ABORTS} early aborts release every reservation within 5 s, are metered at no cost, and are never retried`, async () => {
    const { accountId, secret } = await account("Early leavers");
    for (const p of PROVIDERS) await setMode(engine(p.id), { mode: "stall_before_first_byte", ms: 600_000 });
    const a0 = await engineRequests(engine(A.id));
    const b0 = await engineRequests(engine(B.id));

    // Waves of N (the balance admits N at a time), half streamed, half not.
    for (let sent = 0; sent < ABORTS; sent += N) {
      await abortWave(secret, Math.min(N, ABORTS - sent), (sent / N) % 2 === 0);
      await until(
        "the wave's reservations were released",
        async () => (await guard(accountId).snapshot(accountId)).reservedPico === 0n,
        5_000,
      );
    }
    const snap = await guard(accountId).snapshot(accountId);
    expect(snap).toMatchObject({ balancePico: BigInt(N) * WORST, reservedPico: 0n, availablePico: BigInt(N) * WORST });

    // One request per abort reached an engine (the cheaper one, whose breaker the aborts did not open); none was retried.
    expect(await engineRequests(engine(A.id))).toBe(a0 + ABORTS);
    expect(await engineRequests(engine(B.id))).toBe(b0);

    // Each abort left one usage event: failed, client_disconnected, nothing charged.
    let rows: { status: string; error_code: string | null; cost_pico: string; provider_id: string | null }[] = [];
    await until(
      "every abort metered",
      async () => {
        rows = await sql("select status, error_code, cost_pico::text, provider_id from usage_events where account_id = $1", [accountId]);
        return rows.length >= ABORTS;
      },
      5_000,
    );
    expect(rows).toHaveLength(ABORTS);
    for (const r of rows) expect(r).toEqual({ status: "failed", error_code: "client_disconnected", cost_pico: "0", provider_id: null });
    const [ledger] = await sql<{ n: string }>("select count(*)::text as n from ledger_entries where account = $1", [
      `customer:${accountId}`,
    ]);
    expect(Number(ledger!.n)).toBe(1); // only the grant

    // The next N affordable requests are all admitted.
    await setMode(engine(A.id), { mode: "ok" });
    const next = await Promise.all(Array.from({ length: N }, () => SELF.fetch(chatRequest(secret, { max_tokens: MAX_TOKENS }))));
    expect(await Promise.all(next.map(async (r) => `${r.status} ${r.status === 200 ? "" : await r.text()}`))).toEqual(
      Array(N).fill("200 "),
    );
  }, 90_000);
});

describe("a client that leaves while its admission is in flight", () => {
  it("has its reservation released once the guard answers, and is metered as client_disconnected", async () => {
    // A key with a budget: its first admission reads the key's spend from Postgres, inside the guard.
    const { accountId, secret } = await account("Left while admitting", { budget_usdc: "1" });
    // Warm the key and the route table without loading the account's guard (nobody serves this model).
    expect((await SELF.fetch(chatRequest(secret, { model: "nobody-serves-this" }))).status).toBe(404);
    const a0 = await engineRequests(engine(A.id));
    await tap.hold(); // admission waits on that read
    const mark = await tap.count();
    const ac = new AbortController();
    const pending = SELF.fetch(chatRequest(secret, { max_tokens: MAX_TOKENS }), { signal: ac.signal }).then(
      async (res) => `answered ${res.status}: ${await res.text()}`,
      (e: Error) => e.name,
    );
    await until("the guard is loading", async () => (await tap.count()) > mark, 5_000);
    ac.abort();
    expect(await pending).toBe("AbortError");
    await tap.release();
    let rows: Record<string, unknown>[] = [];
    await until(
      "the request metered",
      async () =>
        (rows = await sql(
          "select status, error_code, cost_pico::text, attempts from usage_events where account_id = $1 order by error_code",
          [accountId],
        )).length > 1,
      5_000,
    );
    expect(rows).toEqual([
      { status: "failed", error_code: "client_disconnected", cost_pico: "0", attempts: 0 },
      { status: "failed", error_code: "model_not_found", cost_pico: "0", attempts: 0 }, // the warm-up
    ]);
    await until("the reservation released", async () => (await guard(accountId).snapshot(accountId)).reservedPico === 0n, 5_000);
    await new Promise((r) => setTimeout(r, 500)); // and it stays released (no late reservation)
    expect(await guard(accountId).snapshot(accountId)).toMatchObject({
      balancePico: BigInt(N) * WORST,
      reservedPico: 0n,
      availablePico: BigInt(N) * WORST,
    });
    expect(await engineRequests(engine(A.id))).toBe(a0); // never forwarded
  });
});
