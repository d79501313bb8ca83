import { describe, expect, it } from "vitest";
import type { GuardMessage as GuardSettle } from "../core/money/lease-book";
import { MAX_ATTEMPTS, SettleQueue, STALE_AFTER_WINDOWS } from "./settle-queue";

const s = (requestId: string) => ({ requestId, chargePico: 1n, tokens: 1 });
const ids = (items: GuardSettle[]) => items.map((i) => ("requestId" in i ? i.requestId : i.leaseId));

/** A send that records its calls and fails the first `failures` of them. */
function recorder(failures = 0) {
  const sent: [string, string[]][] = [];
  let calls = 0;
  const send = async (acct: string, items: GuardSettle[]) => {
    if (calls++ < failures) throw new Error("Durable Object reset because its code was updated");
    sent.push([acct, ids(items)]);
  };
  return { sent, send, calls: () => calls };
}

function harness(opts: ConstructorParameters<typeof SettleQueue>[0] = {}) {
  const logs: string[] = [];
  const bg: Promise<unknown>[] = [];
  const q = new SettleQueue({ windowMs: 1, log: (m) => logs.push(m), ...opts });
  return { q, logs, bg, background: (p: Promise<unknown>) => void bg.push(p) };
}

describe("SettleQueue", () => {
  it("sends one call per account per window, scheduled once", async () => {
    const { q, bg, background } = harness();
    const { sent, send } = recorder();
    q.push("a", s("r1"), background, send);
    q.push("b", s("r2"), background, send);
    q.push("a", s("r3"), background, send);
    expect(bg).toHaveLength(1);
    await Promise.all(bg);
    expect(sent).toEqual([
      ["a", ["r1", "r3"]],
      ["b", ["r2"]],
    ]);
    expect(q.pending).toBe(0);
  });

  it("hands an account's queue to its next admission instead", async () => {
    const { q, bg, background } = harness();
    const { sent, send } = recorder();
    q.push("a", s("r1"), background, send);
    expect(ids(q.take("a"))).toEqual(["r1"]);
    expect(q.take("a")).toEqual([]);
    await Promise.all(bg);
    expect(sent).toEqual([]); // nothing left for the window's call
  });

  it("keeps a failed call's settlements and sends them again within the same waitUntil", async () => {
    const { q, bg, background, logs } = harness();
    const { sent, send } = recorder(1);
    q.push("a", s("r1"), background, send);
    q.push("a", s("r2"), background, send);
    await Promise.all(bg);
    expect(sent).toEqual([["a", ["r1", "r2"]]]);
    expect(bg).toHaveLength(1);
    expect(logs[0]).toMatch(/settle 2 for a failed \(0 dropped\)/);
  });

  it("hands a failed call's settlements, first, to the account's next admission", async () => {
    let sleeps = 0;
    // The first window passes; the retry's window does not (the next admission comes first).
    const { q, bg, background } = harness({ sleep: () => (sleeps++ === 0 ? Promise.resolve() : new Promise<void>(() => undefined)) });
    const { send } = recorder(1);
    q.push("a", s("r1"), background, send);
    await new Promise((r) => setTimeout(r, 5));
    expect(bg).toHaveLength(1);
    q.push("a", s("r2"), background, send);
    expect(ids(q.take("a"))).toEqual(["r1", "r2"]);
  });

  it("drops a settlement after MAX_ATTEMPTS failed calls, with a log line, and stops", async () => {
    const { q, bg, background, logs } = harness();
    const { sent, send, calls } = recorder(Infinity);
    q.push("a", s("r1"), background, send);
    await Promise.all(bg);
    expect(calls()).toBe(MAX_ATTEMPTS);
    expect(sent).toEqual([]);
    expect(q.pending).toBe(0);
    expect(logs.at(-1)).toMatch(/\(1 dropped\)/);
  });

  it("schedules again when the waitUntil could not be registered", async () => {
    const { q, bg, background, logs } = harness();
    const { sent, send } = recorder();
    q.push(
      "a",
      s("r1"),
      () => {
        throw new Error("waitUntil after the response ended");
      },
      send,
    );
    expect(logs[0]).toMatch(/not scheduled/);
    q.push("a", s("r2"), background, send);
    expect(bg).toHaveLength(1);
    await Promise.all(bg);
    expect(sent).toEqual([["a", ["r1", "r2"]]]);
  });

  it("does not wait forever on a flush that never ran: a later push schedules a new one", async () => {
    let t = 0;
    let firstSleep = true;
    const { q, bg, background } = harness({
      now: () => t,
      // The first flush's timer never fires (its request ended); later ones do.
      sleep: () => (firstSleep ? ((firstSleep = false), new Promise<void>(() => undefined)) : Promise.resolve()),
    });
    const { sent, send } = recorder();
    q.push("a", s("r1"), background, send);
    t = STALE_AFTER_WINDOWS; // not yet stale (windowMs 1)
    q.push("a", s("r2"), background, send);
    expect(bg).toHaveLength(1);
    t = STALE_AFTER_WINDOWS + 1;
    q.push("b", s("r3"), background, send);
    expect(bg).toHaveLength(2);
    await bg[1];
    expect(sent).toEqual([
      ["a", ["r1", "r2"]],
      ["b", ["r3"]],
    ]);
  });

  it("flushes at once when the queue reaches its bound", async () => {
    const slept: number[] = [];
    const { q, bg, background } = harness({ maxQueued: 3, sleep: (ms) => (slept.push(ms), Promise.resolve()) });
    const { sent, send } = recorder();
    q.push("a", s("r1"), background, send);
    q.push("b", s("r2"), background, send);
    expect(bg).toHaveLength(1);
    q.push("a", s("r3"), background, send);
    expect(bg).toHaveLength(2); // the bound's flush, without a window
    await bg[1];
    expect(q.pending).toBe(0);
    expect(sent).toEqual([
      ["a", ["r1", "r3"]],
      ["b", ["r2"]],
    ]);
    await Promise.all(bg);
    expect(slept).toEqual([1]);
  });

  it("puts back, first, what a failed admission took", () => {
    const { q, background } = harness({ sleep: () => new Promise<void>(() => undefined) });
    const { send } = recorder();
    q.push("a", s("r1"), background, send);
    const taken = q.take("a");
    q.push("a", s("r2"), background, send);
    q.putBack("a", taken);
    expect(ids(q.take("a"))).toEqual(["r1", "r2"]);
  });
});
