/**
 * The settlement e2e files' shared world: the local network's chain clients, a Postgres client for
 * the books, traffic that leaves usage events and receipts, the admin job runner, ledger:check, and
 * a snapshot of what each provider is owed and was paid. Each file calls useSettlementWorld() once.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import type { Address } from "viem";
import { afterAll, beforeAll, expect, inject } from "vitest";
import type { LocalClients } from "../../chain/clients";
import { admin, resetNetwork, sdk } from "./network-client";
import { chainOf, clientsFor, earningsOf, settledEvents, usdcBalance } from "./chain";

export const run = promisify(execFile);

export interface Snapshot {
  providers: Map<string, { address: Address; ledger: bigint; earnings: bigint }>;
  fees: bigint;
  treasury: bigint;
  settled: number;
}

export function useSettlementWorld() {
  const dev = inject("dev");
  const chain = chainOf(dev);
  const client = sdk(dev);
  let c: LocalClients | undefined;
  let db: pg.Client | undefined;

  beforeAll(async () => {
    c = await clientsFor(dev);
    db = new pg.Client({ connectionString: dev.databaseUrl });
    await db.connect();
    await resetNetwork(dev);
  });
  afterAll(async () => {
    await db?.end();
  });

  /** The chain clients and the books' client, once the file's beforeAll has made them. */
  const handles = () => {
    if (!c || !db) throw new Error("useSettlementWorld: used before its beforeAll ran");
    return { c, db };
  };
  async function balance(account: string): Promise<bigint> {
    const { rows } = await handles().db.query("select coalesce(sum(amount_pico), 0)::text as b from ledger_entries where account = $1", [
      account,
    ]);
    return BigInt((rows[0] as { b: string }).b);
  }

  /** Served requests, each with its usage event and receipt written (settlement reads both). */
  async function traffic(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const ask = { model: dev.model, messages: [{ role: "user" as const, content: `settle me ${i}` }], max_tokens: 40 };
      if (i % 2 === 0) {
        ids.push((await client.chat.completions.create(ask).withResponse()).response.headers.get("x-request-id")!);
      } else {
        const { data, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
        for await (const _ of data) {
          /* drain */
        }
        ids.push(response.headers.get("x-request-id")!);
      }
    }
    for (let i = 0; i < 100; i++) {
      const { rows } = await handles().db.query(
        "select count(*)::int as n from usage_events u join receipts r using (request_id) where u.request_id = any($1)",
        [ids],
      );
      if ((rows[0] as { n: number }).n === ids.length) return ids;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("usage events and receipts were not written in time");
  }

  async function job(name: "deposits" | "settlement", query = ""): Promise<{ status: number; data: Record<string, unknown> }> {
    const res = await admin(dev, "POST", `/admin/v1/jobs/${name}/run${query}`);
    const json = (await res.json()) as { data: Record<string, unknown> };
    return { status: res.status, data: json.data ?? json };
  }

  async function ledgerCheck(): Promise<string> {
    const { stdout } = await run("npx", ["tsx", "scripts/ledger-check.ts", "--database-url", dev.databaseUrl], { timeout: 60_000 });
    return stdout;
  }

  async function snapshot(): Promise<Snapshot> {
    const providers = new Map<string, { address: Address; ledger: bigint; earnings: bigint }>();
    for (const p of dev.providers) {
      const address = p.address as Address;
      providers.set(p.id, { address, ledger: await balance(`provider:${p.id}`), earnings: await earningsOf(handles().c, dev, address) });
    }
    return {
      providers,
      fees: await balance("protocol:fees"),
      treasury: await usdcBalance(handles().c, dev, chain.treasury),
      settled: (await settledEvents(handles().c, dev)).length,
    };
  }

  /** What a settlement of `before` must have done: each provider paid floor(ledger / 1e6), the rest carried. */
  async function expectSettledExactly(before: Snapshot): Promise<void> {
    const after = await snapshot();
    for (const [id, b] of before.providers) {
      const a = after.providers.get(id)!;
      expect(a.earnings - b.earnings, `${id} paid on chain`).toBe(b.ledger / 1_000_000n);
      expect(a.ledger, `${id} carried on the ledger`).toBe(b.ledger % 1_000_000n);
    }
    expect(after.treasury - before.treasury, "fees to the treasury").toBe(before.fees / 1_000_000n);
    expect(after.fees).toBe(before.fees % 1_000_000n);
  }

  return { dev, chain, client, handles, balance, traffic, job, ledgerCheck, snapshot, expectSettledExactly };
}
