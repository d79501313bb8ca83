/** `npm run ledger:check` against the running network, after real traffic through the SDK. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { metricValue } from "../../provider-runtime/sim/testing";
import { formatUsdc } from "../../workers/core/money/units";
import { admin, byId, resetNetwork, sdk } from "../support/network-client";

const dev = inject("dev");
const client = sdk(dev);
const run = promisify(execFile);
const ask = { model: dev.model, messages: [{ role: "user" as const, content: "books please" }], max_tokens: 6 };

beforeEach(() => resetNetwork(dev));

async function ledgerCheck(): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run("npx", ["tsx", "scripts/ledger-check.ts", "--database-url", dev.databaseUrl], { timeout: 60_000 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "" };
  }
}

async function until(check: () => Promise<boolean>, timeoutMs = 1_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function usageWritten(db: pg.Client, ids: string[]): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { rows } = await db.query("select count(*)::int as n from usage_events where request_id = any($1)", [ids]);
    if ((rows[0] as { n: number }).n === ids.length) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { rows } = await db.query("select request_id from usage_events where request_id = any($1)", [ids]);
  throw new Error(`usage events were not written: ${JSON.stringify(ids)} written ${JSON.stringify(rows)}`);
}

describe("npm run ledger:check", () => {
  it("passes after served, streamed and abandoned requests and a grant, and fails on a posting nobody explains", async () => {
    const db = new pg.Client({ connectionString: dev.databaseUrl });
    await db.connect();
    try {
      const ids: string[] = [];
      const plain = await client.chat.completions.create(ask).withResponse();
      ids.push(plain.response.headers.get("x-request-id")!);
      const { data: stream, response } = await client.chat.completions
        .create({ ...ask, stream: true, stream_options: { include_usage: true } })
        .withResponse();
      let streamedCost: unknown;
      for await (const c of stream) if (c.usage) streamedCost = (c.usage as unknown as { cost: unknown }).cost;
      ids.push(response.headers.get("x-request-id")!);
      // A client that leaves mid-stream: billed for what was delivered, marked partial, in the books.
      const aborted = await client.chat.completions.create({ ...ask, max_tokens: 200, stream: true }).withResponse();
      for await (const _ of aborted.data) break; // leaving the loop aborts the request
      ids.push(aborted.response.headers.get("x-request-id")!);
      const servedBy = byId(dev, aborted.response.headers.get("x-meshgate-provider")!);
      await until(async () => (await metricValue(servedBy.metricsUrl, "vllm:num_requests_running")) === 0); // stopped at once, not after 200 tokens
      expect((await admin(dev, "POST", `/admin/v1/accounts/${dev.accountId}/credit`, { amount_usdc: "3.25" })).status).toBe(201);
      await usageWritten(db, ids);
      // The cost the client was told is the cost in the books, to the pico.
      const { rows: costs } = await db.query("select request_id, cost_pico::text from usage_events where request_id = any($1)", [
        ids.slice(0, 2),
      ]);
      const costOf = (id: string) =>
        formatUsdc(BigInt((costs as { request_id: string; cost_pico: string }[]).find((r) => r.request_id === id)!.cost_pico));
      expect((plain.data.usage as unknown as { cost: string }).cost).toBe(costOf(ids[0]!));
      expect(streamedCost).toBe(costOf(ids[1]!));
      expect(Number(streamedCost)).toBeGreaterThan(0);
      const {
        rows: [cut],
      } = await db.query("select status, error_code, completion_tokens, cost_pico::text from usage_events where request_id = $1", [ids[2]]);
      expect(cut).toMatchObject({ status: "partial", error_code: "client_disconnected" });
      expect((cut as { completion_tokens: number }).completion_tokens).toBeGreaterThan(0);
      expect((cut as { completion_tokens: number }).completion_tokens).toBeLessThan(200);

      // The provider's outbox brings its signed count for the abandoned request (what it generated
      // until the gateway stopped it): the request is billed for that, and the books still balance.
      let receipt: { prompt_tokens: number; completion_tokens: number; status: string } | undefined;
      for (let i = 0; i < 100 && !receipt; i++) {
        receipt = (await db.query("select prompt_tokens, completion_tokens, status from receipts where request_id = $1", [ids[2]]))
          .rows[0] as typeof receipt;
        if (!receipt) await new Promise((r) => setTimeout(r, 100));
      }
      expect(receipt, JSON.stringify(receipt)).toMatchObject({ status: "verified" });
      const {
        rows: [billed],
      } = await db.query("select prompt_tokens, completion_tokens from usage_events where request_id = $1", [ids[2]]);
      expect(billed).toEqual({ prompt_tokens: receipt!.prompt_tokens, completion_tokens: receipt!.completion_tokens });

      const ok = await ledgerCheck();
      expect(ok.stdout).toContain("books balance; every entry traces to its record");
      expect(ok.code).toBe(0);

      await db.query(
        "insert into ledger_entries (kind, reference, account, amount_pico) values ('grant', '00000000-0000-0000-0000-000000000000', 'protocol:fees', 5)",
      );
      try {
        const bad = await ledgerCheck();
        expect(bad.code).toBe(1);
        expect(bad.stdout).toContain("grant 00000000-0000-0000-0000-000000000000: no credit grant with this id");
      } finally {
        await db.query("delete from ledger_entries where reference = '00000000-0000-0000-0000-000000000000'");
      }
    } finally {
      await db.end();
    }
  });
});
