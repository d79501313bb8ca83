/**
 * Usage rollups: per hour and per day (UTC bucket starts), per account × key × model × provider,
 * the sums finance reads instead of scanning usage events. Pure: the adapter writes what
 * `foldUsage` returns, and its SQL rebuild must compute exactly the same figures.
 *
 * Time to first token is kept as a histogram, not a mean: a median survives summing rows (hours
 * into days, keys into an account), a mean of medians would not.
 */
import type { UsageRecord } from "../metering/usage";

export type RollupGrain = "hour" | "day";
export const GRAINS: readonly RollupGrain[] = ["hour", "day"];

/**
 * Lower bounds (ms) of the TTFT buckets after the first: bucket 0 is [0, 25), bucket i is
 * [BOUNDS[i-1], BOUNDS[i]), the last is [6400, ∞). Log-spaced, so the error of a median read from
 * it is proportional to the median. Postgres' `width_bucket(ttft_ms, BOUNDS)` gives the same index.
 */
export const TTFT_BOUNDS_MS: readonly number[] = [25, 50, 100, 200, 400, 800, 1600, 3200, 6400];
export const TTFT_BUCKETS = TTFT_BOUNDS_MS.length + 1;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export const grainMs = (g: RollupGrain): number => (g === "hour" ? HOUR_MS : DAY_MS);
/** The start of the UTC hour or day holding `ms` (epoch ms have no leap seconds: plain floor). */
export const bucketStart = (ms: number, g: RollupGrain): number => Math.floor(ms / grainMs(g)) * grainMs(g);

export function emptyHistogram(): number[] {
  return new Array<number>(TTFT_BUCKETS).fill(0);
}

/** The bucket a time to first token falls in (the number of bounds at or below it). */
export function ttftBucket(ttftMs: number): number {
  let i = 0;
  while (i < TTFT_BOUNDS_MS.length && ttftMs >= TTFT_BOUNDS_MS[i]!) i++;
  return i;
}

/** Element-wise sum; a shorter (older) histogram counts as zeros where it has no bucket. */
export function mergeHistograms(a: readonly number[], b: readonly number[]): number[] {
  const out = emptyHistogram();
  for (let i = 0; i < Math.max(a.length, b.length, out.length); i++) out[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return out;
}

/**
 * The median time to first token, in whole ms, interpolated inside the bucket that holds it
 * (requests assumed spread evenly across it); the open last bucket answers its lower bound.
 * null when no request in the histogram had a first token.
 */
export function p50FromHistogram(h: readonly number[]): number | null {
  const total = h.reduce((s, n) => s + n, 0);
  if (total <= 0) return null;
  const half = total / 2;
  let below = 0;
  for (let i = 0; i < h.length; i++) {
    const n = h[i] ?? 0;
    if (n > 0 && below + n >= half) {
      const lo = i === 0 ? 0 : (TTFT_BOUNDS_MS[i - 1] ?? TTFT_BOUNDS_MS[TTFT_BOUNDS_MS.length - 1]!);
      const hi = TTFT_BOUNDS_MS[i];
      if (hi === undefined) return lo;
      return Math.round(lo + ((half - below) / n) * (hi - lo));
    }
    below += n;
  }
  return null; // unreachable: the loop passes half before the end
}

export interface RollupKey {
  grain: RollupGrain;
  /** Bucket start, epoch ms (UTC). */
  bucketMs: number;
  accountId: string;
  keyId: string;
  model: string;
  /** "" when no provider served the request. */
  providerId: string;
}

export interface RollupDelta extends RollupKey {
  requests: number;
  failedRequests: number;
  promptTokens: bigint;
  completionTokens: bigint;
  costPico: bigint;
  feePico: bigint;
  ttftHistogram: number[];
}

export type RollupSource = Pick<
  UsageRecord,
  | "accountId"
  | "keyId"
  | "model"
  | "providerId"
  | "status"
  | "promptTokens"
  | "completionTokens"
  | "costPico"
  | "feePico"
  | "ttftMs"
  | "createdAtMs"
>;

const keyOf = (k: RollupKey) => [k.grain, k.bucketMs, k.accountId, k.keyId, k.model, k.providerId].join("\u0000");

/**
 * What these (freshly written) usage events add to the rollups: one delta per grain × bucket ×
 * account × key × model × provider, sorted by that key so that concurrent writers lock rows in
 * the same order (no deadlock between two flushes). A failed request counts as a request and a
 * failure, with whatever it cost (nothing: a failed request is never billed).
 */
export function foldUsage(records: readonly RollupSource[]): RollupDelta[] {
  const out = new Map<string, RollupDelta>();
  for (const r of records) {
    for (const grain of GRAINS) {
      const key: RollupKey = {
        grain,
        bucketMs: bucketStart(r.createdAtMs, grain),
        accountId: r.accountId,
        keyId: r.keyId,
        model: r.model,
        providerId: r.providerId ?? "",
      };
      const id = keyOf(key);
      let d = out.get(id);
      if (!d) {
        d = {
          ...key,
          requests: 0,
          failedRequests: 0,
          promptTokens: 0n,
          completionTokens: 0n,
          costPico: 0n,
          feePico: 0n,
          ttftHistogram: emptyHistogram(),
        };
        out.set(id, d);
      }
      d.requests += 1;
      if (r.status === "failed") d.failedRequests += 1;
      d.promptTokens += BigInt(r.promptTokens);
      d.completionTokens += BigInt(r.completionTokens);
      d.costPico += r.costPico;
      d.feePico += r.feePico;
      if (r.ttftMs !== null) d.ttftHistogram[ttftBucket(r.ttftMs)]! += 1;
    }
  }
  return [...out.values()].sort(compareKeys);
}

export function compareKeys(a: RollupKey, b: RollupKey): number {
  const order: [string | number, string | number][] = [
    [a.grain, b.grain],
    [a.bucketMs, b.bucketMs],
    [a.accountId, b.accountId],
    [a.keyId, b.keyId],
    [a.model, b.model],
    [a.providerId, b.providerId],
  ];
  for (const [x, y] of order) if (x !== y) return x < y ? -1 : 1;
  return 0;
}

/**
 * A bill corrected after the fact (topUpUsage): the token and money differences, added to the
 * event's hour and day rows. Requests, failures and the histogram do not change.
 */
export function topUpDeltas(
  event: Pick<RollupSource, "accountId" | "keyId" | "model" | "providerId" | "createdAtMs">,
  d: { promptTokens: bigint; completionTokens: bigint; costPico: bigint; feePico: bigint },
): RollupDelta[] {
  return GRAINS.map(
    (grain): RollupDelta => ({
      grain,
      bucketMs: bucketStart(event.createdAtMs, grain),
      accountId: event.accountId,
      keyId: event.keyId,
      model: event.model,
      providerId: event.providerId ?? "",
      requests: 0,
      failedRequests: 0,
      ...d,
      ttftHistogram: emptyHistogram(),
    }),
  ).sort(compareKeys); // the order foldUsage's writers lock rows in
}
