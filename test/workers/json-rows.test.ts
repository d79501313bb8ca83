/**
 * The batch writes that pass their rows as one JSON parameter (adapters/postgres/json-rows.ts) write
 * exactly what drizzle's builder wrote: every column, types, NULLs, bigints past 2^53, text with
 * quotes, backslashes and non-ASCII, timestamps to the millisecond; and they stay idempotent.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { reservations, usageEvents } from "../../db/schema";
import { persistReservations } from "../../workers/adapters/postgres/guard";
import { writeTransactions } from "../../workers/adapters/postgres/ledger";
import { insertUsage } from "../../workers/adapters/postgres/usage";
import type { UsageRecord } from "../../workers/core/metering/usage";
import { usageTransactionOf } from "../../workers/core/money/ledger";
import { adminJson, registerProviders, sql, withDb } from "../support/workerd/gateway";
import { inArray } from "drizzle-orm";

beforeAll(registerProviders);

async function owner() {
  const a = await adminJson<{ id: string }>("POST", "/accounts", { name: "json rows" }, 201);
  const k = await adminJson<{ id: string }>("POST", "/keys", { account_id: a.id, name: "k" }, 201);
  return { accountId: a.id, keyId: k.id };
}

const HUGE = 2n ** 62n + 12_345n;

describe("batch writes with one JSON parameter", () => {
  it("usage events: every column as given, a replay writes nothing", async () => {
    const { accountId, keyId } = await owner();
    const base = { keyId, accountId, endpoint: "chat" as const, receiptStatus: "none" as const, attempts: 1 };
    const records: UsageRecord[] = [
      {
        ...base,
        requestId: `jr-${crypto.randomUUID()}`,
        providerId: "wk-a",
        model: `m "quoted" \\ back ünïcødé 🚀`,
        stream: true,
        promptTokens: 7,
        completionTokens: 2_000_000_000,
        costPico: HUGE,
        feePico: HUGE / 20n,
        status: "partial",
        errorCode: "upstream_cut",
        ttftMs: 12,
        durationMs: 345,
        edge: "AMS",
        createdAtMs: Date.UTC(2026, 11, 3, 1, 2, 3, 456),
      },
      {
        ...base,
        requestId: `jr-${crypto.randomUUID()}`,
        providerId: null,
        model: "plain",
        stream: false,
        promptTokens: 0,
        completionTokens: 0,
        costPico: 0n,
        feePico: 0n,
        status: "failed",
        errorCode: null,
        ttftMs: null,
        durationMs: 0,
        edge: "local",
        createdAtMs: Date.UTC(2026, 0, 1),
      },
    ];
    expect((await withDb((db) => insertUsage(db, records))).sort()).toEqual(records.map((r) => r.requestId).sort());
    expect(await withDb((db) => insertUsage(db, records))).toEqual([]); // replayed: nothing written
    const ids = records.map((r) => r.requestId);
    const rows = await withDb((db) => db.select().from(usageEvents).where(inArray(usageEvents.requestId, ids)));
    const back = rows
      .map(({ createdAt, ...r }) => ({ ...r, createdAtMs: createdAt.getTime() }))
      .sort((a, b) => ids.indexOf(a.requestId) - ids.indexOf(b.requestId));
    expect(back).toEqual(records);
  });

  it("ledger postings and reservations: exact amounts, one row per posting, settled ids updated", async () => {
    const { accountId, keyId } = await owner();
    const requestId = `jr-${crypto.randomUUID()}`;
    const t = usageTransactionOf({ requestId, accountId, providerId: "wk-a", costPico: HUGE, feePico: HUGE / 20n });
    await withDb((db) => writeTransactions(db, [t]));
    await withDb((db) => writeTransactions(db, [t])); // idempotent
    const postings = await sql<{ account: string; amount: string }>(
      "select account, amount_pico::text as amount from ledger_entries where reference = $1 order by account",
      [requestId],
    );
    expect(postings).toEqual(
      t.postings.map((p) => ({ account: p.account, amount: p.amountPico.toString() })).sort((a, b) => (a.account < b.account ? -1 : 1)),
    );
    const made = [0, 1, 2].map((i) => ({
      requestId: `${requestId}.${i}`,
      accountId,
      keyId,
      endpoint: "chat" as const,
      amountPico: HUGE - BigInt(i),
      createdAt: new Date(Date.UTC(2026, 11, 3, 0, 0, i, 7)),
      expiresAt: new Date(Date.UTC(2026, 11, 3, 0, 15, i, 7)),
    }));
    const settledAt = new Date(Date.UTC(2026, 11, 3, 0, 1));
    await withDb((db) => persistReservations(db, made, [made[1]!.requestId, made[2]!.requestId], settledAt));
    await withDb((db) => persistReservations(db, made, [], settledAt)); // idempotent
    const rows = await withDb((db) =>
      db
        .select()
        .from(reservations)
        .where(
          inArray(
            reservations.requestId,
            made.map((m) => m.requestId),
          ),
        ),
    );
    expect(rows.sort((a, b) => (a.requestId < b.requestId ? -1 : 1))).toEqual(
      made.map((m, i) => ({ ...m, settledAt: i === 0 ? null : settledAt })),
    );
  });
});
