/**
 * The ledger in workerd against real Postgres: every charged request writes balanced postings in
 * the same transaction as its usage event, once; operator credit grants; the whole-ledger audit.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { auditLedger } from "../../workers/adapters/postgres/ledger";
import { insertUsage } from "../../workers/adapters/postgres/usage";
import type { UsageRecord } from "../../workers/core/metering/usage";
import {
  admin,
  adminJson,
  chat,
  env,
  model,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  sql,
  withDb,
} from "../support/workerd/gateway";

type Posting = { account: string; amount_pico: string };
let k: Awaited<ReturnType<typeof newKey>>;
const [A] = PROVIDERS;
const FEE_BPS = BigInt(env.PROTOCOL_FEE_BPS); // wrangler.toml's rate

beforeAll(async () => {
  await registerProviders();
  k = await newKey("Ledgered");
});
beforeEach(resetNetwork);

const postingsOf = (reference: string) =>
  sql<Posting>("select account, amount_pico::text from ledger_entries where kind = 'usage' and reference = $1 order by account", [
    reference,
  ]);
const balanceOf = async (account: string) =>
  BigInt(
    (await sql<{ b: string }>("select coalesce(sum(amount_pico), 0)::text as b from ledger_entries where account = $1", [account]))[0]!.b,
  );

describe("usage in the books", () => {
  it("a served request debits the customer its cost and credits the provider and the protocol fee", async () => {
    const { res } = await chat(k.secret, { max_tokens: 9 });
    const requestId = res.headers.get("x-request-id")!;
    const [event] = await sql<{ cost_pico: string; fee_pico: string }>(
      "select cost_pico::text, fee_pico::text from usage_events where request_id = $1",
      [requestId],
    );
    const cost = BigInt(event!.cost_pico);
    const fee = (cost * FEE_BPS) / 10_000n;
    expect(cost).toBeGreaterThan(0n);
    expect(BigInt(event!.fee_pico)).toBe(fee);
    expect(await postingsOf(requestId)).toEqual([
      { account: `customer:${k.accountId}`, amount_pico: String(-cost) },
      { account: "protocol:fees", amount_pico: String(fee) },
      { account: `provider:${A.id}`, amount_pico: String(cost - fee) },
    ]);
  });

  it("a replayed usage write leaves one event and one set of entries; a failed request writes none", async () => {
    const rec: UsageRecord = {
      requestId: `gen-ledger-${crypto.randomUUID()}`,
      keyId: k.keyId,
      accountId: k.accountId,
      providerId: A.id,
      model,
      endpoint: "chat",
      stream: false,
      promptTokens: 10,
      completionTokens: 5,
      costPico: 10n * A.inputPico + 5n * A.outputPico,
      feePico: 99n,
      status: "ok",
      errorCode: null,
      receiptStatus: "none",
      ttftMs: 5,
      durationMs: 9,
      edge: "local",
      attempts: 1,
      createdAtMs: Date.now(),
    };
    await withDb((db) => insertUsage(db, [rec]));
    await withDb((db) => insertUsage(db, [rec, rec]));
    await withDb((db) => insertUsage(db, [{ ...rec, costPico: 1n, feePico: 0n }]));
    expect(await sql("select request_id from usage_events where request_id = $1", [rec.requestId])).toHaveLength(1);
    expect(await postingsOf(rec.requestId)).toEqual([
      { account: `customer:${k.accountId}`, amount_pico: String(-rec.costPico) },
      { account: "protocol:fees", amount_pico: "99" },
      { account: `provider:${A.id}`, amount_pico: String(rec.costPico - 99n) },
    ]);

    const failed = {
      ...rec,
      requestId: `gen-ledger-${crypto.randomUUID()}`,
      providerId: null,
      costPico: 0n,
      feePico: 0n,
      status: "failed" as const,
    };
    await withDb((db) => insertUsage(db, [failed]));
    expect(await postingsOf(failed.requestId)).toEqual([]);
  });
});

describe("credit grants", () => {
  it("credits an account exactly and shows its balance; refuses bad amounts and unknown accounts", async () => {
    const acct = await adminJson<{ id: string }>("POST", "/accounts", { name: "Granted" }, 201);
    const g1 = await adminJson<{ balance_usdc: string; amount_usdc: string }>(
      "POST",
      `/accounts/${acct.id}/credit`,
      { amount_usdc: "12.5", note: "pilot" },
      201,
    );
    expect(g1).toMatchObject({ amount_usdc: "12.5", balance_usdc: "12.5" });
    const g2 = await adminJson<{ balance_usdc: string }>("POST", `/accounts/${acct.id}/credit`, { amount_usdc: "0.000000000001" }, 201);
    expect(g2.balance_usdc).toBe("12.500000000001");
    expect(await balanceOf(`customer:${acct.id}`)).toBe(12_500_000_000_001n);
    expect(await adminJson("GET", `/accounts/${acct.id}`)).toMatchObject({
      id: acct.id,
      balance_usdc: "12.500000000001",
      balancePico: "12500000000001",
    });

    for (const amount_usdc of ["0", "-1", "1e3", "0.0000000000001", "abc"]) {
      const res = await admin("POST", `/accounts/${acct.id}/credit`, { amount_usdc });
      expect(res.status, amount_usdc).toBe(400);
      expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", param: "amount_usdc" } });
    }
    expect((await admin("POST", `/accounts/${crypto.randomUUID()}/credit`, { amount_usdc: "1" })).status).toBe(404);
    expect(await balanceOf(`customer:${acct.id}`)).toBe(12_500_000_000_001n);
  });
});

describe("the audit", () => {
  it("finds the books balanced and every entry traced after requests, replays and grants", async () => {
    await chat(k.secret, { max_tokens: 3, stream: true });
    const audit = await withDb((db) => auditLedger(db));
    expect(audit.problems).toEqual([]);
    expect(audit.transactions).toBeGreaterThan(0);
    expect(Object.values(audit.totals).reduce((a, b) => a + b, 0n)).toBe(0n);

    // And it notices a posting nobody explains.
    await sql("insert into ledger_entries (kind, reference, account, amount_pico) values ('usage', 'gen-nobody', 'protocol:fees', 1)");
    try {
      const broken = await withDb((db) => auditLedger(db));
      expect(broken.problems).toEqual(
        expect.arrayContaining([
          'usage "gen-nobody" does not balance: postings sum to 1',
          "balances sum to 1, not 0",
          "usage gen-nobody: no usage event with this request id",
        ]),
      );
    } finally {
      await sql("delete from ledger_entries where reference = 'gen-nobody'");
    }
  });
});
