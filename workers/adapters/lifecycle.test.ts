import { describe, expect, it } from "vitest";
import type { UsageRecord } from "../core/metering/usage";
import { IsolateLifecycle } from "./lifecycle";
import { UsageBuffer, type WriteUsageBatch } from "./usage-buffer";

const rec = (requestId: string) => ({ requestId }) as UsageRecord;

/** A buffer whose window never ends by itself: only the drain writes it. */
function meteredBuffer() {
  const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 1_000 }, () => undefined);
  const written: string[] = [];
  const write: WriteUsageBatch = async (b) => {
    written.push(...b.records.map((r) => r.requestId));
  };
  return { buf, write, written, usage: buf.drainable(write) };
}

const sse = () => new Response("data: x\n\n", { headers: { "content-type": "text/event-stream" } });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("IsolateLifecycle", () => {
  it("writes the buffered records at once and answers when nothing is left", async () => {
    const life = new IsolateLifecycle();
    const { buf, write, written, usage } = meteredBuffer();
    for (const id of ["a", "b", "c"]) buf.push(rec(id), [], null, () => undefined, write);
    const report = await life.drain(usage, 5_000);
    expect(written).toEqual(["a", "b", "c"]);
    expect(report).toMatchObject({ complete: true, inFlight: 0, unwritten: 0 });
    expect(report.tookMs).toBeLessThan(1_000);
    expect(life.draining).toBe(true);
  });

  it("waits for a stream that was answered but not yet metered, and writes its record at once", async () => {
    const life = new IsolateLifecycle();
    const { buf, write, written, usage } = meteredBuffer();
    const ctx = {};
    await life.serve(ctx, async () => sse());
    expect(life.inFlight).toBe(1); // answered, still streaming
    const drained = life.drain(usage, 5_000);
    await tick(50);
    const bg: Promise<unknown>[] = [];
    buf.push(rec("s"), [], null, (p) => bg.push(p), write);
    life.recorded(ctx);
    const report = await drained;
    await Promise.all(bg);
    expect(written).toEqual(["s"]);
    expect(report).toMatchObject({ complete: true, inFlight: 0, unwritten: 0 });
  });

  it("waits for background work, and a JSON request ends with its response", async () => {
    const life = new IsolateLifecycle();
    const { usage } = meteredBuffer();
    await life.serve({}, async () => new Response("{}", { headers: { "content-type": "application/json" } }));
    let done = () => {};
    life.track(new Promise<void>((r) => (done = r)));
    expect(life.inFlight).toBe(1);
    const drained = life.drain(usage, 5_000);
    await tick(50);
    done();
    expect((await drained).complete).toBe(true);
  });

  it("is bounded: at the deadline it reports what is still running and unwritten", async () => {
    const life = new IsolateLifecycle();
    const buf = new UsageBuffer({ windowMs: 60_000, maxBatch: 1_000 }, () => undefined);
    const failing: WriteUsageBatch = async () => {
      throw new Error("db down");
    };
    buf.push(rec("a"), [], null, () => undefined, failing);
    await life.serve({}, async () => sse());
    const report = await life.drain(buf.drainable(failing), 500);
    // The record was retried all along (no attempt limit while draining), never written, never dropped.
    expect(report).toMatchObject({ complete: false, inFlight: 1, unwritten: 1 });
    expect(report.tookMs).toBeLessThan(1_000);
  });

  it("does not wait for the drain's own request", async () => {
    const life = new IsolateLifecycle();
    const { usage } = meteredBuffer();
    const self = {};
    const res = await life.serve(self, async () => {
      const report = await life.drain(usage, 5_000, self);
      return Response.json(report);
    });
    expect(((await res.json()) as { complete: boolean }).complete).toBe(true);
    expect(life.inFlight).toBe(0);
  });
});
