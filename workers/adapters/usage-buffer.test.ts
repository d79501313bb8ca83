import { describe, expect, it } from "vitest";
import type { UsageRecord } from "../core/metering/usage";
import { UsageBuffer, type WriteUsageBatch } from "./usage-buffer";

const rec = (requestId: string): UsageRecord => ({
  requestId,
  keyId: "k",
  accountId: "a",
  providerId: "p",
  model: "m",
  endpoint: "chat",
  stream: false,
  promptTokens: 1,
  completionTokens: 1,
  costPico: 1n,
  feePico: 0n,
  status: "ok",
  errorCode: null,
  receiptStatus: "none",
  ttftMs: 1,
  durationMs: 1,
  edge: "local",
  attempts: 1,
  createdAtMs: 0,
});

/** A writer that records the usage rows of each flush (the database itself is tested in test/workers). */
function fakeWriter(fail = 0) {
  const sessions: string[][] = [];
  let failures = fail;
  const write: WriteUsageBatch = async (batch) => {
    if (failures-- > 0) throw new Error("db down");
    sessions.push(batch.records.map((r) => r.requestId));
  };
  return { sessions, write };
}

describe("UsageBuffer", () => {
  it("writes a window's records in one session, and they are findable until written", async () => {
    const buf = new UsageBuffer({ windowMs: 30, maxBatch: 100 }, () => undefined);
    const { sessions, write } = fakeWriter();
    const bg: Promise<unknown>[] = [];
    for (const id of ["a", "b", "c"]) buf.push(rec(id), [], null, (p) => bg.push(p), write);
    // One waitUntil per window: workerd refuses a promise shared across request contexts.
    expect(bg).toHaveLength(1);
    expect(buf.find("b")?.requestId).toBe("b");
    await Promise.all(bg);
    expect(sessions).toEqual([["a", "b", "c"]]);
    expect(buf.find("b")).toBeUndefined();
  });

  it("writes a full batch at once", async () => {
    const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 2 }, () => undefined);
    const { sessions, write } = fakeWriter();
    const bg: Promise<unknown>[] = [];
    buf.push(rec("a"), [], null, (p) => bg.push(p), write);
    buf.push(rec("b"), [], null, (p) => bg.push(p), write);
    await Promise.all(bg);
    expect(sessions).toEqual([["a", "b"]]);
  });

  it("keeps records when a write fails and writes them on the retry", async () => {
    const buf = new UsageBuffer({ windowMs: 10, maxBatch: 100 }, () => undefined);
    const { sessions, write } = fakeWriter(1);
    const bg: Promise<unknown>[] = [];
    buf.push(rec("a"), [], null, (p) => bg.push(p), write);
    await Promise.all(bg);
    expect(sessions).toEqual([["a"]]);
  });

  it("updates a buffered record's receipt verdict in place", async () => {
    const buf = new UsageBuffer({ windowMs: 10, maxBatch: 100 }, () => undefined);
    const { write } = fakeWriter();
    buf.push(rec("a"), [], null, () => undefined, write);
    buf.setReceiptStatus("a", "verified", () => undefined, write);
    expect(buf.find("a")?.receiptStatus).toBe("verified");
  });

  it("writes at once while draining: what waited for the window, and every record after it", async () => {
    const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 100 }, () => undefined);
    const { sessions, write } = fakeWriter();
    buf.push(rec("a"), [], null, () => undefined, write);
    expect(buf.idle).toBe(false);
    buf.startDraining();
    await buf.flushNow(write);
    expect(sessions).toEqual([["a"]]);
    const bg: Promise<unknown>[] = [];
    buf.push(rec("b"), [], null, (p) => bg.push(p), write);
    await Promise.all(bg);
    expect(sessions).toEqual([["a"], ["b"]]);
    expect(buf.idle).toBe(true);
    expect(buf.unwritten()).toBe(0);
  });

  it("counts a record being written as unwritten until its write returns", async () => {
    const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 100 }, () => undefined);
    let release = () => {};
    const write: WriteUsageBatch = () => new Promise<void>((r) => (release = r));
    buf.push(rec("a"), [], null, () => undefined, write);
    buf.startDraining();
    const writing = buf.flushNow(write);
    expect(buf.unwritten()).toBe(1);
    expect(buf.idle).toBe(false);
    release();
    await writing;
    expect(buf.idle).toBe(true);
  });

  it("a failed write while draining keeps the records for the drain to retry, with no window", async () => {
    const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 100 }, () => undefined);
    const { sessions, write } = fakeWriter(1);
    buf.push(rec("a"), [], null, () => undefined, write);
    buf.startDraining();
    const started = Date.now();
    await buf.flushNow(write);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(buf.unwritten()).toBe(1);
    await buf.flushNow(write);
    expect(sessions).toEqual([["a"]]);
    expect(buf.idle).toBe(true);
  });
});
