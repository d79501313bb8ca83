import { describe, expect, it } from "vitest";
import type { Reservation } from "../../core/money/admission";
import { ReservationWrites } from "./reservation-writes";

const res = (requestId: string): Reservation => ({ requestId, keyId: "k1", amountPico: 5n, tokens: 9, atMs: 0, expiresAtMs: 1_000 });

/** A store that records its calls and applies them to a map (what a restart would list). */
function harness() {
  const disk = new Map<string, Reservation>();
  const calls: string[] = [];
  const timers: (() => void)[] = [];
  const writes = new ReservationWrites(
    {
      put: (entries) => {
        calls.push(`put ${Object.keys(entries).length}`);
        for (const [k, v] of Object.entries(entries)) disk.set(k, v);
      },
      delete: (keys) => {
        calls.push(`delete ${keys.length}`);
        for (const k of keys) disk.delete(k);
      },
    },
    (flush) => timers.push(flush),
  );
  const tick = () => {
    for (const t of timers.splice(0)) t();
  };
  return { disk, calls, timers, writes, tick };
}

describe("coalesced reservation writes", () => {
  it("a burst of 300 reservations is one flush of three calls (128 keys each at most), not 300 writes", () => {
    const h = harness();
    for (let i = 0; i < 300; i++) h.writes.made(res(`r${i}`));
    expect(h.calls).toEqual([]);
    expect(h.timers).toHaveLength(1);
    h.tick();
    expect(h.calls).toEqual(["put 128", "put 128", "put 44"]);
    expect(h.disk.size).toBe(300);
  });

  it("a reservation settled before its flush is never written, nor deleted", () => {
    const h = harness();
    h.writes.made(res("quick"));
    h.writes.made(res("slow"));
    h.writes.gone("quick");
    h.tick();
    expect(h.calls).toEqual(["put 1"]);
    expect([...h.disk.keys()]).toEqual(["r:slow"]);
  });

  it("a written reservation is deleted in the next flush; settles and expiries batch too", () => {
    const h = harness();
    for (const id of ["a", "b", "c"]) h.writes.made(res(id));
    h.tick();
    h.writes.gone("a");
    h.writes.gone("b");
    h.writes.made(res("d"));
    expect(h.timers).toHaveLength(1);
    h.tick();
    expect(h.calls).toEqual(["put 3", "delete 2", "put 1"]);
    expect([...h.disk.keys()].sort()).toEqual(["r:c", "r:d"]);
  });

  it("a request id admitted again after its settle is written again and deleted again", () => {
    const h = harness();
    h.writes.made(res("x"));
    h.tick();
    h.writes.gone("x");
    h.writes.made(res("x"));
    h.tick();
    expect(h.disk.has("r:x")).toBe(true);
    h.writes.gone("x");
    h.tick();
    expect(h.disk.has("r:x")).toBe(false);
  });

  it("a reservation restored from storage is deleted when it goes; an immediate flush empties the queue", () => {
    const h = harness();
    h.disk.set("r:old", res("old"));
    h.writes.known("old");
    h.writes.gone("old");
    expect(h.writes.waiting).toBe(1);
    h.writes.flush();
    expect([h.disk.size, h.writes.waiting]).toEqual([0, 0]);
    h.tick(); // the armed timer finds nothing to do
    expect(h.calls).toEqual(["delete 1"]);
  });
});
