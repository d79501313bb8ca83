/**
 * The Finance API's books in workerd against real Postgres: settlement batches and a request's
 * trail down to its transaction, deposits and ledger postings paged by cursor, and the summary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatUsdc } from "../../workers/core/money/units";
import { model, sql } from "../support/workerd/gateway";
import { DAY, dateOf, finJson, seedFinance, today, toPico, type FinanceWorld, type Json } from "../support/workerd/finance";

let world: FinanceWorld;
beforeAll(async () => {
  world = await seedFinance("books");
}, 60_000);

describe("settlements, deposits and a request's trail", () => {
  const batchId = `0x${"f1".repeat(32)}`;
  const txHash = `0x${"ab".repeat(32)}`;
  let periodId = 0;
  beforeAll(async () => {
    const { a, aRequests, finProvider } = world;
    // A settled period holding the receipt of A's request, and its batch: what the settlement job records.
    const [p] = await sql<{ id: string }>(
      "insert into settlement_periods (chain_id, cutoff, merkle_root, receipt_count, status, settled_at) values (31337, now(), $1, 1, 'settled', now()) returning id::text",
      [`0x${"cd".repeat(32)}`],
    );
    periodId = Number(p!.id);
    await sql(
      `insert into receipts (request_id, provider_id, signer, model, prompt_tokens, completion_tokens, input_price, output_price, response_hash, signed_at_ms, digest, signature, source, status, period_id)
      values ($1, 'wk-a', $2, $3, 1, 1, 1, 1, $4, 0, $5, '0x', 'inline', 'verified', $6)`,
      [aRequests[2], `0x${"00".repeat(20)}`, model, `0x${"00".repeat(32)}`, `0x${"ee".repeat(32)}`, periodId],
    );
    await sql(
      `insert into settlement_batches (id, period_id, part, payouts, fee_base, total_base, status, tx_hash, block_number, settled_at)
      values ($1, $2, 0, $3::jsonb, 5, 105, 'settled', $4, 42, now())`,
      [batchId, periodId, JSON.stringify([{ providerId: finProvider, address: `0x${"11".repeat(20)}`, amountBase: "100" }]), txHash],
    );
    for (let i = 0; i < 3; i++) {
      await sql(
        `insert into deposits (chain_id, tx_hash, log_index, block_number, block_hash, account, account_id, from_address, amount_base, status)
        values (31337, $1, $2, $3, '0x', '0x', $4, '0x', 2500000, 'credited')`,
        [`0x${String(i).repeat(64)}`, i, 100 + i, a.accountId],
      );
    }
  });
  afterAll(async () => {
    const { a, aRequests } = world;
    await sql("delete from settlement_batches where id = $1", [batchId]);
    await sql("delete from receipts where request_id = $1", [aRequests[2]]);
    await sql("delete from settlement_periods where id = $1", [periodId]);
    await sql("delete from deposits where account_id = $1", [a.accountId]);
  });

  it("shows a batch to the accounts whose requests it settled, with its tx hash; confirmations unknown without a chain", async () => {
    const { aFinance, bFinance, operator, aRequests, finProvider } = world;
    const mine = await finJson<{ data: Json[] }>(aFinance, "/settlements");
    expect(mine.data).toEqual([
      expect.objectContaining({
        batch_id: batchId,
        period_id: periodId,
        total_usdc: "0.000105",
        fee_usdc: "0.000005",
        status: "settled",
        tx_hash: txHash,
        block_number: "42",
        payouts: [{ provider_id: finProvider, address: `0x${"11".repeat(20)}`, amount_usdc: "0.0001" }],
        confirmations: null,
        explorer_url: null,
      }),
    ]);
    expect((await finJson<{ data: Json[] }>(bFinance, "/settlements")).data).toEqual([]);
    expect((await finJson<{ data: Json[] }>(operator, "/settlements")).data.map((x) => x.batch_id)).toContain(batchId);

    const trace = await finJson<{ ledger: { amount_usdc: string }[]; period: Json; batches: Json[]; receipt: Json }>(
      aFinance,
      `/requests/${aRequests[2]}`,
    );
    expect(trace.receipt).toMatchObject({ provider_id: "wk-a", period_id: periodId });
    expect(trace.period).toMatchObject({ id: periodId, status: "settled" });
    expect(trace.batches.map((x) => x.tx_hash)).toEqual([txHash]);
    // The request's transaction balances: customer debit = provider credit + fee.
    expect(trace.ledger.length).toBe(3);
    expect(trace.ledger.reduce((s, e) => s + toPico(e.amount_usdc), 0n)).toBe(0n);
    const overview = await finJson<{ payouts: Json[] }>(operator, `/providers/${finProvider}`);
    expect(overview.payouts).toEqual([expect.objectContaining({ batch_id: batchId, amount_usdc: "0.0001", tx_hash: txHash })]);
  });

  it("pages deposits and ledger postings by cursor, newest first, without gaps or repeats", async () => {
    const { a, aFinance, bFinance } = world;
    const first = await finJson<{ data: Json[]; next_before: string }>(aFinance, "/deposits?limit=2");
    expect(first.data.map((d) => d.block_number)).toEqual(["102", "101"]);
    expect(first.data[0]).toMatchObject({ amount_usdc: "2.5", status: "credited", confirmations: null });
    const second = await finJson<{ data: Json[]; next_before: string | null }>(aFinance, `/deposits?limit=2&before=${first.next_before}`);
    expect(second.data.map((d) => d.block_number)).toEqual(["100"]);
    expect(second.next_before).toBeNull();
    expect((await finJson<{ data: Json[] }>(bFinance, "/deposits")).data).toEqual([]);

    const expected = await sql<{ entry_id: string }>(
      "select id::text as entry_id from ledger_entries where account = $1 order by id desc",
      [`customer:${a.accountId}`],
    );
    const seen: number[] = [];
    let before: number | null = null;
    do {
      const page: { data: { id: number }[]; next_before: number | null } = await finJson(
        aFinance,
        `/ledger?limit=2${before ? `&before=${before}` : ""}`,
      );
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((e) => e.id));
      before = page.next_before;
    } while (before !== null);
    expect(seen).toEqual(expected.map((e) => Number(e.entry_id)));
    const grants = await finJson<{ data: Json[] }>(aFinance, "/ledger?kind=grant");
    expect(grants.data).toEqual([expect.objectContaining({ kind: "grant", amount_usdc: "100" })]);
  });

  it("summarises balance, spend, burn rate and the top keys", async () => {
    const { a, aFinance, finModel } = world;
    const s = await finJson<{ balance_usdc: string; spend_7d_usdc: string; top_keys: Json[]; runway_days: number }>(aFinance, "/summary");
    const [bal] = await sql<{ b: string }>("select sum(amount_pico)::text as b from ledger_entries where account = $1", [
      `customer:${a.accountId}`,
    ]);
    expect(s.balance_usdc).toBe(formatUsdc(BigInt(bal!.b)));
    expect(s.top_keys).toEqual([expect.objectContaining({ key_id: a.keyId, requests: 9 })]);
    expect(s.runway_days).toBeGreaterThan(0);
    const series = await finJson<{ data: Json[] }>(aFinance, `/series?from=${dateOf(today() - 5 * DAY)}&to=${dateOf(today() + DAY)}`);
    expect(series.data.reduce((n, p) => n + Number(p.requests), 0)).toBe(9);
    expect(new Set(series.data.map((p) => p.model))).toEqual(new Set([model, finModel]));
  });
});
