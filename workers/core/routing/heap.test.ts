import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PositionHeap } from "./heap";

describe("PositionHeap", () => {
  it("pops by key, equal keys in the caller's order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }), (keys) => {
        const heap = new PositionHeap({ before: (a, b) => a > b }); // ties: the larger position first
        keys.forEach((k, p) => heap.push(p, k));
        const out: number[] = [];
        while (heap.size > 0) out.push(heap.pop());
        const expected = keys.map((_, p) => p).sort((a, b) => keys[a]! - keys[b]! || b - a);
        expect(out).toEqual(expected);
        expect(heap.pop()).toBe(-1);
        expect(heap.peekKey()).toBe(Number.POSITIVE_INFINITY);
      }),
    );
  });
});
