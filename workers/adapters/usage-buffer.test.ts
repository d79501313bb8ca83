import { describe, expect, it } from "vitest";
import type { Db } from "../../db/client";
import type { UsageRecord } from "../core/metering/usage";
import { UsageBuffer } from "./usage-buffer";

const rec = (requestId: string): UsageRecord => ({
  requestId, keyId: "k", accountId: "a", providerId: "p", model: "m", endpoint: "chat", stream: false, promptTokens: 1,
  completionTokens: 1, costPico: 1n, feePico: 0n, status: "ok", errorCode: null, receiptStatus: "none", ttftMs: 1, durationMs: 1,
  edge: "local", attempts: 1, createdAtMs: 0,
});

/** A fake database session that records the usage rows inserted per session. */
function fakeDb(fail = 0) {
  const sessions: string[][] = [];
  let failures = fail;
  const withDb = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
    if (failures-- > 0) throw new Error("db down");
    const rows: string[] = [];
    sessions.push(rows);
    const chain = {
      values: (v: { requestId: string }[] | { requestId: string }) => {
        const batch = [v].flat();
        for (const r of batch) if (r.requestId !== undefined) rows.push(r.requestId); // usage rows, not ledger postings
        const inserted = Object.assign(Promise.resolve(undefined), { returning: async () => batch.map((r) => ({ requestId: r.requestId })) });
        return { onConflictDoNothing: () => inserted, onConflictDoUpdate: async () => undefined };
      },
    };
    const db = {
      insert: () => chain, update: () => ({ set: () => ({ where: async () => undefined }) }),
      transaction: <T>(fn: (tx: unknown) => Promise<T>) => fn(db),
    } as unknown as Db;
    return fn(db);
  };
  return { sessions, withDb };
}

describe("UsageBuffer", () => {
  it("writes a window's records in one session, and they are findable until written", async () => {
    const buf = new UsageBuffer({ windowMs: 30, maxBatch: 100 }, () => undefined);
    const { sessions, withDb } = fakeDb();
    const bg: Promise<unknown>[] = [];
    for (const id of ["a", "b", "c"]) buf.push(rec(id), [], null, (p) => bg.push(p), withDb);
    // One waitUntil per window: workerd refuses a promise shared across request contexts.
    expect(bg).toHaveLength(1);
    expect(buf.find("b")?.requestId).toBe("b");
    await Promise.all(bg);
    expect(sessions).toEqual([["a", "b", "c"]]);
    expect(buf.find("b")).toBeUndefined();
  });

  it("writes a full batch at once", async () => {
    const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 2 }, () => undefined);
    const { sessions, withDb } = fakeDb();
    const bg: Promise<unknown>[] = [];
    buf.push(rec("a"), [], null, (p) => bg.push(p), withDb);
    buf.push(rec("b"), [], null, (p) => bg.push(p), withDb);
    await Promise.all(bg);
    expect(sessions).toEqual([["a", "b"]]);
  });

  it("keeps records when a write fails and writes them on the retry", async () => {
    const buf = new UsageBuffer({ windowMs: 10, maxBatch: 100 }, () => undefined);
    const { sessions, withDb } = fakeDb(1);
    const bg: Promise<unknown>[] = [];
    buf.push(rec("a"), [], null, (p) => bg.push(p), withDb);
    await Promise.all(bg);
    expect(sessions).toEqual([["a"]]);
  });

  it("updates a buffered record's receipt verdict in place", async () => {
    const buf = new UsageBuffer({ windowMs: 10, maxBatch: 100 }, () => undefined);
    const { withDb } = fakeDb();
    buf.push(rec("a"), [], null, () => undefined, withDb);
    buf.setReceiptStatus("a", "verified", () => undefined, withDb);
    expect(buf.find("a")?.receiptStatus).toBe("verified");
  });
});
