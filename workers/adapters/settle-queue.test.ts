import { describe, expect, it } from "vitest";
import { SettleQueue } from "./settle-queue";

const s = (requestId: string) => ({ requestId, chargePico: 1n, tokens: 1 });

describe("SettleQueue", () => {
  it("sends one call per account per window, scheduled once", async () => {
    const q = new SettleQueue(10, () => undefined);
    const sent: [string, string[]][] = [];
    const send = async (acct: string, items: { requestId: string }[]) => {
      sent.push([acct, items.map((i) => i.requestId)]);
    };
    const bg: Promise<unknown>[] = [];
    q.push("a", s("r1"), (p) => bg.push(p), send);
    q.push("b", s("r2"), (p) => bg.push(p), send);
    q.push("a", s("r3"), (p) => bg.push(p), send);
    expect(bg).toHaveLength(1);
    await Promise.all(bg);
    expect(sent).toEqual([
      ["a", ["r1", "r3"]],
      ["b", ["r2"]],
    ]);
  });

  it("hands an account's queue to its next admission instead", async () => {
    const q = new SettleQueue(10, () => undefined);
    const sent: string[] = [];
    const bg: Promise<unknown>[] = [];
    q.push(
      "a",
      s("r1"),
      (p) => bg.push(p),
      async (acct) => {
        sent.push(acct);
      },
    );
    expect(q.take("a").map((x) => x.requestId)).toEqual(["r1"]);
    expect(q.take("a")).toEqual([]);
    await Promise.all(bg);
    expect(sent).toEqual([]); // nothing left for the window's call
  });
});
