/**
 * `npm run bench` (admission): CPU per admit+settle of one key, in µs, with 10, 1,000 and 100,000
 * entries in its 60 s rate window, before (bench/lib/admission-reference.ts: the algorithm that
 * scanned the window on every request) and after (workers/core/money/admission.ts: running sums),
 * in the same run; and a key with no rate limits (no window at all now).
 *
 * Steady state: one entry ages out per admission (they are WINDOW_MS / size apart), so the window
 * holds `size` entries throughout. Each figure is the median of 5 timed runs of at least
 * BENCH_ADMISSION_MS (200) ms each. Pure CPU in this process; no network. Markdown to stdout.
 */
import { performance } from "node:perf_hooks";
import { AccountAdmission, type AdmitRequest, type KeyLimits, WINDOW_MS } from "../workers/core/money/admission";
import { ReferenceAdmission } from "./lib/admission-reference";
import { fmt, int, table } from "./lib/table";

const SIZES = [10, 1_000, 100_000];
const RUN_MS = Number(process.env.BENCH_ADMISSION_MS ?? 200);
const RUNS = 5;

interface Admission {
  admit(req: AdmitRequest): { ok: boolean };
  settle(requestId: string, chargePico: bigint, tokens: number): boolean;
}

const LIMITED: KeyLimits = { keyId: "k1", rpm: 1_000_000_000, tpm: 1_000_000_000_000, budgetPico: null };
const UNLIMITED: KeyLimits = { keyId: "k1", rpm: null, tpm: null, budgetPico: null };

/** A window of `size` entries ending now, and a clock that moves one spacing per admission. */
function steady(
  a: Admission,
  size: number,
  limits: KeyLimits,
  seed: (entries: { atMs: number; tokens: number; requestId: string }[]) => void,
) {
  const dt = WINDOW_MS / size;
  seed(Array.from({ length: size }, (_, i) => ({ atMs: i * dt, tokens: 40, requestId: `seed${i}` })));
  let now = size * dt;
  let n = 0;
  return () => {
    const requestId = `r${n++}`;
    const d = a.admit({ requestId, limits, reservePico: 1n, reserveTokens: 40, nowMs: now, ttlMs: 900_000 });
    if (!d.ok || !a.settle(requestId, 1n, 25)) throw new Error(`admission refused at ${requestId}`);
    now += dt;
  };
}

/** µs per call of `once`: the median of RUNS runs of at least RUN_MS each. */
function measure(once: () => void): number {
  for (let i = 0; i < 50; i++) once(); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < RUN_MS) {
      for (let i = 0; i < 16; i++) once();
      calls += 16;
      elapsed = performance.now() - start;
    }
    runs.push((elapsed * 1_000) / calls);
  }
  return runs.sort((x, y) => x - y)[Math.floor(RUNS / 2)]!;
}

function before(size: number, limits: KeyLimits): number {
  const a = new ReferenceAdmission(10n ** 18n);
  return measure(steady(a, size, limits, (entries) => a.seed(limits.keyId, entries)));
}

function after(size: number, limits: KeyLimits): number {
  const a = new AccountAdmission(10n ** 18n);
  // Seeded through admit itself: O(1) per entry now.
  const seed = (entries: { atMs: number; tokens: number; requestId: string }[]) => {
    for (const e of entries) {
      a.admit({ requestId: e.requestId, limits, reservePico: 1n, reserveTokens: e.tokens, nowMs: e.atMs, ttlMs: 900_000 });
      a.settle(e.requestId, 1n, e.tokens);
    }
  };
  return measure(steady(a, size, limits, seed));
}

const rows: (string | number)[][] = [];
for (const [label, limits] of [
  ["rpm + tpm", LIMITED],
  ["no limits", UNLIMITED],
] as const) {
  for (const size of SIZES) {
    const old = before(size, limits);
    const now = after(size, limits);
    rows.push([label, int(size), fmt(old, 3), fmt(now, 3), `${fmt(old / now, 1)}×`]);
  }
}
console.log(`## Admission: µs per admit+settle (one key, steady-state window; median of ${RUNS} × ≥${RUN_MS} ms)\n`);
console.log(table(["key", "entries in window", "before µs", "after µs", "speed-up"], rows));
