import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RateWindow, WINDOW_MS } from "./rate-window";

type Op =
  | { t: "push"; dt: number; tokens: number }
  | { t: "correct"; pick: number; tokens: number }
  | { t: "retry"; tpm: number; need: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("push" as const),
      // Mostly small steps (a window of ~500 entries, so the queue compacts), now and then a full window.
      dt: fc.oneof({ weight: 2_000, arbitrary: fc.nat(240) }, { weight: 1, arbitrary: fc.constant(WINDOW_MS) }),
      tokens: fc.nat(500),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("correct" as const), pick: fc.nat(), tokens: fc.nat(500) }) },
  fc.record({ t: fc.constant("retry" as const), tpm: fc.nat(50_000), need: fc.nat(5_000) }),
);

describe("RateWindow against a brute-force list", () => {
  it("requests, tokens, oldest and retry-after stay exact over long runs (through the queue's compactions)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 3_000, maxLength: 4_000 }), (ops) => {
        const w = new RateWindow();
        let all: { id: string; atMs: number; tokens: number }[] = [];
        let now = 0;
        let n = 0;
        for (const op of ops) {
          if (op.t === "push") {
            now += op.dt;
            w.advance(now);
            const id = `r${n++}`;
            w.push(id, now, op.tokens);
            all.push({ id, atMs: now, tokens: op.tokens });
          } else if (op.t === "correct") {
            const e = all[op.pick % Math.max(1, all.length)];
            if (!e) continue;
            w.correct(e.id, op.tokens);
            e.tokens = op.tokens;
          }
          const live = all.filter((e) => e.atMs > now - WINDOW_MS);
          all = live; // what aged out never counts again (the clock only moves forward)
          const sum = live.reduce((s, e) => s + e.tokens, 0);
          // A plain comparison first (thousands per run); expect only to report a difference.
          if (w.requests !== live.length || w.tokens !== sum || w.oldestAtMs !== live[0]?.atMs) {
            expect([w.requests, w.tokens, w.oldestAtMs]).toEqual([live.length, sum, live[0]?.atMs]);
          }
          if (op.t === "retry") {
            let expected = WINDOW_MS;
            if (op.need <= op.tpm) {
              let total = live.reduce((s, e) => s + e.tokens, 0);
              for (const e of live) {
                total -= e.tokens;
                if (total + op.need <= op.tpm) {
                  expected = Math.max(1, e.atMs + WINDOW_MS - now);
                  break;
                }
              }
            }
            expect(w.tokenRetryAfter(op.tpm, op.need, now)).toBe(expected);
          }
        }
      }),
      // No shrinking: a counterexample thousands of steps long would take minutes to shrink.
      { numRuns: 10, endOnFailure: true },
    );
  });
});
