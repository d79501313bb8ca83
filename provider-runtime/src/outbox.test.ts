import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Outbox } from "./outbox";

const root = mkdtempSync(join(tmpdir(), "meshgate-outbox-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, String(n++));
const ids = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { requestId: string }).requestId);

describe("Outbox", () => {
  it("appends and fsyncs in batches, and reloads what was not acknowledged", async () => {
    const dir = fresh();
    const a = await Outbox.open(dir);
    for (const id of ["r1", "r2", "r3"]) a.add({ requestId: id, receipt: `{"id":"${id}"}` });
    await a.sync();
    expect(ids(readFileSync(a.file, "utf8"))).toEqual(["r1", "r2", "r3"]);
    await a.close();
    const b = await Outbox.open(dir);
    expect(b.batch(10)).toEqual(["r1", "r2", "r3"].map((id) => ({ requestId: id, receipt: `{"id":"${id}"}` })));
    await b.close();
  });

  it("compacts acknowledged receipts away and moves refused ones to the back", async () => {
    const o = await Outbox.open(fresh());
    for (const id of ["a", "b", "c", "d"]) o.add({ requestId: id, receipt: id });
    const batch = o.batch(3);
    await o.settle(
      ["a", "c"],
      batch.filter((e) => e.requestId === "b"),
    );
    expect(o.batch(10).map((e) => e.requestId)).toEqual(["d", "b"]);
    o.add({ requestId: "e", receipt: "e" });
    await o.sync();
    expect(ids(readFileSync(o.file, "utf8"))).toEqual(["d", "b", "e"]);
    await o.settle(["d", "b", "e"], []);
    expect(readFileSync(o.file, "utf8")).toBe("");
    await o.close();
  });

  it("skips a line torn by a crash, and the next append starts on a fresh line", async () => {
    const dir = fresh();
    const a = await Outbox.open(dir);
    a.add({ requestId: "whole", receipt: "w" });
    await a.close();
    appendFileSync(a.file, '{"requestId":"torn","rec');
    const b = await Outbox.open(dir);
    expect(b.size).toBe(1);
    b.add({ requestId: "next", receipt: "n" });
    await b.close();
    expect(ids(readFileSync(b.file, "utf8"))).toEqual(["whole", "next"]);
  });
});
