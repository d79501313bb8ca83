/**
 * A request admitted but never metered (its isolate died mid-stream) is billed from the provider's
 * signed receipt when the provider's outbox posts it: at the registered price, capped by the
 * reservation, in the books, and the reservation released.
 */
import { SELF } from "cloudflare:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { encodeSignedReceipt, receiptDomain, signReceipt, type Receipt } from "../../workers/core/protocol/receipt";
import { BASE, engine, env, newKey, sql, withDb } from "../support/workerd/gateway";
import { registerWithAgent } from "../support/workerd/agent-stub";
import { insertUsage } from "../../workers/adapters/postgres/usage";
import { auditLedger } from "../../workers/adapters/postgres/ledger";

const MODEL = "receipt-test/model"; // its own model: nothing else routes to this provider
const wallet = privateKeyToAccount(generatePrivateKey());
const CHAIN = Number(env.CHAIN_ID ?? 31337);
const IN = 200_000n,
  OUT = 400_000n; // 0.20 / 0.40 USDC per M tokens = pico per token
let k: Awaited<ReturnType<typeof newKey>>;

const post = async (path: string, payload: Record<string, unknown>, kind: "register" | "receipts") => {
  const signature = await signProviderMessage(wallet, CHAIN, kind, payload as never);
  return fetchWorker(path, { payload, signature });
};
const fetchWorker = (path: string, body: unknown) =>
  SELF.fetch(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

beforeAll(async () => {
  k = await newKey("Receipt billed");
  // An agent holding the wallet answers the gateway's endpoint challenge.
  const res = await registerWithAgent(wallet, {
    id: "wk-wallet",
    address: wallet.address,
    url: engine("wk-a").url,
    region: "local",
    gpu: null,
    max_concurrency: 4,
    timestamp: Date.now(),
    models: [{ model: MODEL, endpoints: ["chat"], input_price: "0.20", output_price: "0.40", context_length: 4096 }],
  });
  expect([200, 201]).toContain(res.status);
});

async function admittedButLost(reservePico: bigint): Promise<string> {
  const requestId = `gen-lost-${crypto.randomUUID()}`;
  const guard = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(k.accountId));
  const d = await guard.admit(k.accountId, {
    requestId,
    limits: { keyId: k.keyId, rpm: null, tpm: null, budgetPico: null },
    reservePico,
    reserveTokens: 100,
    ttlMs: 600_000,
    endpoint: "chat",
  });
  expect(d.ok).toBe(true);
  for (let i = 0; i < 60 && (await sql("select 1 from reservations where request_id = $1", [requestId])).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  // Two minutes ago: long enough that its isolate is surely gone.
  await sql("update reservations set created_at = now() - interval '2 minutes' where request_id = $1", [requestId]);
  return requestId;
}

async function signedReceipt(requestId: string, promptTokens: number, completionTokens: number): Promise<string> {
  const receipt: Receipt = {
    requestId,
    model: MODEL,
    promptTokens,
    completionTokens,
    inputPrice: IN,
    outputPrice: OUT,
    provider: wallet.address,
    gateway: env.GATEWAY_ADDRESS as `0x${string}`,
    responseHash: `0x${"00".repeat(32)}`,
    // Signed when its answer ended, as long ago as the lost request's admission: a bill from a
    // receipt waits RECEIPT_RECONCILE_AFTER_MS from the later of the two.
    timestamp: BigInt(Date.now() - 120_000),
  };
  return encodeSignedReceipt(receipt, await signReceipt(wallet, receiptDomain(CHAIN), receipt));
}

/** One post of the outbox: the gateway's acknowledgement. */
async function postReceipts(encoded: string[]) {
  const res = await post("/providers/v1/receipts", { address: wallet.address, timestamp: Date.now(), receipts: encoded }, "receipts");
  expect(res.status).toBe(200);
  return res.json();
}

const postReceipt = async (requestId: string, promptTokens: number, completionTokens: number) =>
  postReceipts([await signedReceipt(requestId, promptTokens, completionTokens)]);

/** A streamed request whose client left after 3 of its tokens: billed for what was delivered, no fee. */
async function clientLeft(): Promise<{ requestId: string; deliveredPico: bigint }> {
  const requestId = `gen-left-${crypto.randomUUID()}`;
  const deliveredPico = 3n * OUT + 10n * IN;
  await withDb((db) =>
    insertUsage(db, [
      {
        requestId,
        keyId: k.keyId,
        accountId: k.accountId,
        providerId: "wk-wallet",
        model: MODEL,
        endpoint: "chat",
        stream: true,
        promptTokens: 10,
        completionTokens: 3,
        costPico: deliveredPico,
        feePico: 0n,
        status: "partial",
        errorCode: "client_disconnected",
        receiptStatus: "none",
        ttftMs: 5,
        durationMs: 50,
        edge: "local",
        attempts: 1,
        createdAtMs: Date.now(),
      },
    ]),
  );
  return { requestId, deliveredPico };
}

async function usageRow(requestId: string) {
  for (let i = 0; i < 60; i++) {
    const [row] = await sql<Record<string, unknown>>(
      "select status, error_code, provider_id, prompt_tokens, completion_tokens, cost_pico::text from usage_events where request_id = $1",
      [requestId],
    );
    if (row) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no usage event for ${requestId}`);
}

describe("billing from a receipt", () => {
  it("bills an admitted request that never reported back at the registered price, books it, releases the reservation", async () => {
    const requestId = await admittedButLost(1_000_000_000n);
    expect(await postReceipt(requestId, 10, 20)).toEqual({ accepted: [requestId], rejected: [] });
    const cost = 10n * IN + 20n * OUT;
    expect(await usageRow(requestId)).toMatchObject({
      status: "partial",
      error_code: "billed_from_receipt",
      provider_id: "wk-wallet",
      prompt_tokens: 10,
      completion_tokens: 20,
      cost_pico: String(cost),
    });
    const postings = await sql<{ account: string; amount_pico: string }>(
      "select account, amount_pico::text from ledger_entries where reference = $1 order by account",
      [requestId],
    );
    expect(postings.find((p) => p.account === `customer:${k.accountId}`)?.amount_pico).toBe(String(-cost));
    const guard = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(k.accountId));
    for (let i = 0; i < 30 && (await guard.snapshot(k.accountId)).reservedPico !== 0n; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await guard.snapshot(k.accountId)).reservedPico).toBe(0n);
  });

  it("never bills more than the reservation", async () => {
    const requestId = await admittedButLost(1_000n);
    expect(await postReceipt(requestId, 10, 20)).toEqual({ accepted: [requestId], rejected: [] });
    expect(await usageRow(requestId)).toMatchObject({ cost_pico: "1000" });
  });

  it("keeps a receipt for a request that may still be metered (neither accepted nor refused)", async () => {
    const requestId = `gen-young-${crypto.randomUUID()}`;
    expect(await postReceipt(requestId, 1, 1)).toEqual({ accepted: [], rejected: [] });
    expect(await sql("select 1 from usage_events where request_id = $1", [requestId])).toEqual([]);
  });

  it("tops up a request whose client left to the provider's signed count, with an adjustment that keeps the books exact", async () => {
    const { requestId, deliveredPico: delivered } = await clientLeft();
    const guard = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(k.accountId));
    const before = (await guard.snapshot(k.accountId)).balancePico;
    expect(await postReceipt(requestId, 10, 7)).toEqual({ accepted: [requestId], rejected: [] });
    const generated = 10n * IN + 7n * OUT;
    expect(await usageRow(requestId)).toMatchObject({ completion_tokens: 7, cost_pico: String(generated) });
    // The account's guard was told the correction at once (no reload from the books needed).
    expect((await guard.snapshot(k.accountId)).balancePico).toBe(before - (generated - delivered));
    const adjustment = await sql<{ account: string; amount_pico: string }>(
      "select account, amount_pico::text from ledger_entries where kind = 'adjustment' and reference = $1",
      [requestId],
    );
    expect(adjustment.find((p) => p.account === `customer:${k.accountId}`)?.amount_pico).toBe(String(-(generated - delivered)));
    const audit = await withDb((db) => auditLedger(db));
    expect(audit.problems).toEqual([]);
    // Posted again (the outbox retries): acknowledged, billed once.
    expect(await postReceipt(requestId, 10, 7)).toEqual({ accepted: [requestId], rejected: [] });
    expect(await sql("select 1 from ledger_entries where kind = 'adjustment' and reference = $1", [requestId])).toHaveLength(3);
  });
});

/**
 * A real database failure on the write that bills a receipt, for chosen request ids: a trigger on
 * usage_events raises for the ids in a table of its own, so the top-up's UPDATE (or the bill's
 * INSERT) rolls back like any failed transaction.
 */
const FAULTS = "receipt_billing_faults";
const faults = {
  async install() {
    await sql(`create table if not exists ${FAULTS} (request_id text primary key)`);
    await sql(`create or replace function ${FAULTS}_raise() returns trigger language plpgsql as $fn$
      begin
        if exists (select 1 from ${FAULTS} where request_id = new.request_id) then
          raise exception 'injected fault for %', new.request_id;
        end if;
        return new;
      end $fn$`);
    await sql(`drop trigger if exists ${FAULTS}_trigger on usage_events`);
    await sql(`create trigger ${FAULTS}_trigger before insert or update on usage_events for each row execute function ${FAULTS}_raise()`);
  },
  add: (requestId: string) => sql(`insert into ${FAULTS} (request_id) values ($1)`, [requestId]),
  remove: (requestId: string) => sql(`delete from ${FAULTS} where request_id = $1`, [requestId]),
  async uninstall() {
    await sql(`drop trigger if exists ${FAULTS}_trigger on usage_events`);
    await sql(`drop function if exists ${FAULTS}_raise()`);
    await sql(`drop table if exists ${FAULTS}`);
  },
};

const ledgerOf = (requestId: string) =>
  sql<{ kind: string; account: string; amount_pico: string }>(
    "select kind, account, amount_pico::text from ledger_entries where reference = $1 order by kind, account",
    [requestId],
  );
const receiptStored = async (requestId: string) => (await sql("select 1 from receipts where request_id = $1", [requestId])).length === 1;

describe("a billing write that fails", () => {
  beforeAll(() => faults.install());
  afterAll(() => faults.uninstall());

  it("leaves a client-left correction with the provider, acknowledges the rest of the batch, and lands it once when sent again", async () => {
    const failing = await clientLeft();
    const other = await clientLeft();
    const failingReceipt = await signedReceipt(failing.requestId, 10, 7);
    await faults.add(failing.requestId);
    const guard = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(k.accountId));

    // Neither accepted nor rejected: the agent keeps it in its outbox. The other one is corrected.
    expect(await postReceipts([failingReceipt, await signedReceipt(other.requestId, 10, 5)])).toEqual({
      accepted: [other.requestId],
      rejected: [],
    });
    expect(await usageRow(other.requestId)).toMatchObject({ completion_tokens: 5, cost_pico: String(10n * IN + 5n * OUT) });
    // Nothing booked for the failed one: the event as first billed, no adjustment, no stored receipt.
    expect(await usageRow(failing.requestId)).toMatchObject({ completion_tokens: 3, cost_pico: String(failing.deliveredPico) });
    expect((await ledgerOf(failing.requestId)).filter((e) => e.kind === "adjustment")).toEqual([]);
    expect(await receiptStored(failing.requestId)).toBe(false);

    await faults.remove(failing.requestId);
    const before = (await guard.snapshot(k.accountId)).balancePico;
    expect(await postReceipts([failingReceipt])).toEqual({ accepted: [failing.requestId], rejected: [] });
    const generated = 10n * IN + 7n * OUT;
    expect(await usageRow(failing.requestId)).toMatchObject({ completion_tokens: 7, cost_pico: String(generated) });
    const adjustment = (await ledgerOf(failing.requestId)).filter((e) => e.kind === "adjustment");
    expect(adjustment).toHaveLength(3); // customer, provider, protocol fee
    expect(adjustment.find((e) => e.account === `customer:${k.accountId}`)?.amount_pico).toBe(String(-(generated - failing.deliveredPico)));
    expect(adjustment.reduce((sum, e) => sum + BigInt(e.amount_pico), 0n)).toBe(0n);
    expect((await guard.snapshot(k.accountId)).balancePico).toBe(before - (generated - failing.deliveredPico));
    expect(await receiptStored(failing.requestId)).toBe(true);

    // A third post (the agent retried before it saw the ack): acknowledged, nothing changes.
    const books = await ledgerOf(failing.requestId);
    expect(await postReceipts([failingReceipt])).toEqual({ accepted: [failing.requestId], rejected: [] });
    expect(await ledgerOf(failing.requestId)).toEqual(books);
    expect(await usageRow(failing.requestId)).toMatchObject({ completion_tokens: 7, cost_pico: String(generated) });
    expect((await withDb((db) => auditLedger(db))).problems).toEqual([]);
  });

  it("leaves a bill from a receipt with the provider until it is written, then bills it once", async () => {
    const requestId = await admittedButLost(1_000_000_000n);
    const receipt = await signedReceipt(requestId, 10, 20);
    await faults.add(requestId);

    expect(await postReceipts([receipt])).toEqual({ accepted: [], rejected: [] });
    expect(await sql("select 1 from usage_events where request_id = $1", [requestId])).toEqual([]);
    expect(await ledgerOf(requestId)).toEqual([]);
    expect(await receiptStored(requestId)).toBe(false);

    await faults.remove(requestId);
    expect(await postReceipts([receipt])).toEqual({ accepted: [requestId], rejected: [] });
    const cost = 10n * IN + 20n * OUT;
    expect(await usageRow(requestId)).toMatchObject({
      error_code: "billed_from_receipt",
      prompt_tokens: 10,
      completion_tokens: 20,
      cost_pico: String(cost),
    });
    const books = await ledgerOf(requestId);
    expect(books.find((e) => e.kind === "usage" && e.account === `customer:${k.accountId}`)?.amount_pico).toBe(String(-cost));

    expect(await postReceipts([receipt])).toEqual({ accepted: [requestId], rejected: [] });
    expect(await ledgerOf(requestId)).toEqual(books);
    expect((await withDb((db) => auditLedger(db))).problems).toEqual([]);
  });
});
