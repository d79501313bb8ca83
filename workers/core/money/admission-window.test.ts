/**
 * The rate windows as running sums: exact against a brute-force reference (the window recomputed
 * from every admitted entry on each decision), and O(1) per admit+settle whatever the window holds,
 * measured as window entries touched through an injected counter (no timing).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountAdmission, type Decision, type KeyLimits, WINDOW_MS } from "./admission";
import { limits, req } from "./admission.fixtures";

/** The window recomputed from scratch: every entry admitted less than WINDOW_MS ago. */
class BruteWindow {
  private readonly all: { id: string; atMs: number; tokens: number }[] = [];
  add(id: string, atMs: number, tokens: number): void {
    this.all.push({ id, atMs, tokens });
  }
  correct(id: string, tokens: number): void {
    const e = this.all.find((x) => x.id === id);
    if (e) e.tokens = tokens;
  }
  decide(l: KeyLimits, need: number, nowMs: number, retried: boolean): Decision {
    const live = this.all.filter((e) => e.atMs > nowMs - WINDOW_MS);
    const used = live.reduce((s, e) => s + e.tokens, 0);
    const reset = live.length === 0 ? 0 : Math.max(0, live[0]!.atMs + WINDOW_MS - nowMs);
    const rateAfter = (n: number, t: number, r: number) => ({
      limitRequests: l.rpm,
      remainingRequests: l.rpm === null ? null : Math.max(0, l.rpm - n),
      resetRequestsMs: l.rpm === null ? null : r,
      limitTokens: l.tpm,
      remainingTokens: l.tpm === null ? null : Math.max(0, l.tpm - t),
      resetTokensMs: l.tpm === null ? null : r,
    });
    const now = rateAfter(live.length, used, reset);
    if (retried) return { ok: true, rate: now };
    if (l.rpm !== null && live.length + 1 > l.rpm) {
      const retryAfterMs = live.length === 0 ? WINDOW_MS : live[0]!.atMs + WINDOW_MS - nowMs;
      return { ok: false, denial: { kind: "rate_limited", limit: "requests", retryAfterMs }, rate: now };
    }
    if (l.tpm !== null && used + need > l.tpm) {
      let retryAfterMs = WINDOW_MS;
      if (need <= l.tpm) {
        // The first admission time at which the entries admitted up to then have all aged out enough.
        for (let i = 0; i < live.length; i++) {
          const rest = live.slice(i + 1).reduce((s, e) => s + e.tokens, 0);
          if (rest + need <= l.tpm) {
            retryAfterMs = Math.max(1, live[i]!.atMs + WINDOW_MS - nowMs);
            break;
          }
        }
      }
      return { ok: false, denial: { kind: "rate_limited", limit: "tokens", retryAfterMs }, rate: now };
    }
    return { ok: true, rate: rateAfter(live.length + 1, used + need, live.length === 0 ? WINDOW_MS : reset) };
  }
}

type Op =
  | { t: "admit"; key: number; tokens: number; dt: number }
  | { t: "retry"; pick: number }
  | { t: "settle"; pick: number; tokens: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("admit" as const),
      key: fc.nat(2),
      tokens: fc.nat(400),
      dt: fc.oneof(fc.nat(50), fc.nat(30_000), fc.constant(WINDOW_MS)),
    }),
  },
  fc.record({ t: fc.constant("retry" as const), pick: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ t: fc.constant("settle" as const), pick: fc.nat(), tokens: fc.nat(400) }) },
);
const limitArb = fc.record({
  rpm: fc.option(fc.nat(12), { nil: null }),
  tpm: fc.option(fc.nat(2_000), { nil: null }),
});

describe("rate windows against a brute-force reference", () => {
  it("every decision, retry-after and rate figure equals the window recomputed from scratch", () => {
    fc.assert(
      fc.property(fc.tuple(limitArb, limitArb, limitArb), fc.array(opArb, { maxLength: 120 }), (keyLimits, ops) => {
        const a = new AccountAdmission(10n ** 15n);
        const brute = [new BruteWindow(), new BruteWindow(), new BruteWindow()];
        const admitted: { id: string; key: number; tokens: number }[] = [];
        const live = new Set<string>();
        let now = 1_000;
        let n = 0;
        const lim = (key: number) => limits({ keyId: `k${key}`, ...keyLimits[key]! });
        for (const op of ops) {
          if (op.t === "settle") {
            const r = admitted.length === 0 ? undefined : admitted[op.pick % admitted.length];
            if (!r) continue;
            expect(a.settle(r.id, 1n, op.tokens)).toBe(live.has(r.id));
            if (live.delete(r.id)) brute[r.key]!.correct(r.id, op.tokens);
            continue;
          }
          const again = op.t === "retry" ? [...live][op.pick % Math.max(1, live.size)] : undefined;
          const r = again === undefined ? undefined : admitted.find((x) => x.id === again);
          if (op.t === "retry" && !r) continue;
          if (op.t === "admit") now += op.dt;
          const key = r?.key ?? (op.t === "admit" ? op.key : 0);
          const tokens = r?.tokens ?? (op.t === "admit" ? op.tokens : 0);
          const id = r?.id ?? `r${n++}`;
          const l = lim(key);
          const expected = brute[key]!.decide(l, tokens, now, r !== undefined);
          const got = a.admit(req(id, { limits: l, reservePico: 1n, reserveTokens: tokens, nowMs: now }));
          expect(got).toEqual(expected);
          if (got.ok && !r) {
            admitted.push({ id, key, tokens });
            live.add(id);
            // A key with no rate limit keeps no window; the reference only counts limited keys.
            if (l.rpm !== null || l.tpm !== null) brute[key]!.add(id, now, tokens);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** Window entries touched per admit+settle, in the steady state of a window holding `size` entries. */
function stepsPerAdmitSettle(size: number, rounds: number): number {
  const counter = { steps: 0 };
  const a = new AccountAdmission(10n ** 18n, counter);
  const l = limits({ rpm: 10 ** 9, tpm: 10 ** 12 });
  const dt = WINDOW_MS / size; // whole ms for these sizes; one entry ages out per admission: the window stays at `size`
  let now = 0;
  let i = 0;
  const once = () => {
    const id = `r${i++}`;
    if (!a.admit(req(id, { limits: l, reservePico: 1n, reserveTokens: 40, nowMs: now })).ok || !a.settle(id, 1n, 25)) {
      throw new Error(`${id} refused`);
    }
    now += dt;
  };
  for (let k = 0; k < size; k++) once();
  counter.steps = 0;
  for (let k = 0; k < rounds; k++) once();
  const d = a.admit(req("probe", { limits: l, reservePico: 1n, nowMs: now }));
  expect(d.rate).toMatchObject({ remainingRequests: 10 ** 9 - size }); // the window held `size`
  return counter.steps / rounds;
}

describe("admission cost does not grow with the window", () => {
  it("touches the same few entries per admit+settle at 10, 1,000 and 20,000 entries in the window", () => {
    const at10 = stepsPerAdmitSettle(10, 2_000);
    // Pushed, corrected, one aged out, and at most one copy per aged-out entry when the queue compacts.
    expect(at10).toBeGreaterThanOrEqual(3);
    expect(at10).toBeLessThanOrEqual(4);
    for (const size of [1_000, 20_000]) {
      const steps = stepsPerAdmitSettle(size, 2_000);
      expect(steps).toBeGreaterThanOrEqual(3);
      expect(steps).toBeLessThanOrEqual(4);
    }
  });

  it("a key with no rate limit computes nothing and keeps no window (a limit set later counts from then)", () => {
    const counter = { steps: 0 };
    const a = new AccountAdmission(10n ** 18n, counter);
    for (let i = 0; i < 10_000; i++) {
      if (!a.admit(req(`u${i}`, { reservePico: 1n, reserveTokens: 50, nowMs: i })).ok || !a.settle(`u${i}`, 1n, 30)) {
        throw new Error(`u${i} refused`);
      }
    }
    expect(counter.steps).toBe(0);
    expect(a.admit(req("first-limited", { limits: limits({ rpm: 10 }), reservePico: 1n, nowMs: 10_000 }))).toMatchObject({
      ok: true,
      rate: { remainingRequests: 9 },
    });
  });

  it("reservations are running sums: admit and settle touch no other reservation", () => {
    const a = new AccountAdmission(10n ** 18n);
    const k = limits({ budgetPico: 10n ** 12n });
    a.loadKey("k1", 0n);
    for (let i = 0; i < 1_000; i++) a.admit(req(`h${i}`, { limits: k, reservePico: 3n }));
    expect([a.reservedPico, a.reservation("h7")?.amountPico]).toEqual([3_000n, 3n]);
    a.settle("h7", 2n, 0);
    expect([a.reservedPico, a.available, a.reservation("h7")]).toEqual([2_997n, 10n ** 18n - 2n - 2_997n, undefined]);
    expect(a.admit(req("over", { limits: k, reservePico: 10n ** 12n - 2n - 2_997n + 1n }))).toMatchObject({
      ok: false,
      denial: { kind: "insufficient_quota", scope: "key", availablePico: 10n ** 12n - 2n - 2_997n },
    });
  });
});
