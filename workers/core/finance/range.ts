/**
 * Which rollup rows answer a time range. Rollups only know whole UTC hours and days, so a range
 * is read as the hours it touches: one that starts or ends mid-hour includes that whole hour.
 * Whole days come from day rows (24× fewer rows to sum), the ragged ends from hour rows.
 */
import { grainMs, type RollupGrain } from "./rollup";

export interface RollupSegment {
  grain: RollupGrain;
  /** Bucket starts in [fromMs, toMs). */
  fromMs: number;
  toMs: number;
}

const floorTo = (ms: number, g: RollupGrain) => Math.floor(ms / grainMs(g)) * grainMs(g);
const ceilTo = (ms: number, g: RollupGrain) => Math.ceil(ms / grainMs(g)) * grainMs(g);

export const isDayAligned = (ms: number): boolean => ms % grainMs("day") === 0;

/**
 * The segments covering [fromMs, toMs): hour rows throughout when `hourly` (a per-hour report),
 * otherwise day rows for the whole days inside and hour rows for the partial days at either end.
 * An empty range needs no rows.
 */
export function rollupSegments(fromMs: number, toMs: number, hourly: boolean): RollupSegment[] {
  if (!(fromMs < toMs)) return [];
  const hFrom = floorTo(fromMs, "hour");
  const hTo = ceilTo(toMs, "hour");
  if (hourly) return [{ grain: "hour", fromMs: hFrom, toMs: hTo }];
  const dFrom = ceilTo(hFrom, "day");
  const dTo = floorTo(hTo, "day");
  if (dFrom >= dTo) return [{ grain: "hour", fromMs: hFrom, toMs: hTo }];
  const out: RollupSegment[] = [];
  if (hFrom < dFrom) out.push({ grain: "hour", fromMs: hFrom, toMs: dFrom });
  out.push({ grain: "day", fromMs: dFrom, toMs: dTo });
  if (dTo < hTo) out.push({ grain: "hour", fromMs: dTo, toMs: hTo });
  return out;
}

/** The last `hours` whole hour buckets up to and including the one holding `nowMs`. */
export function recentHours(nowMs: number, hours: number): { fromMs: number; toMs: number } {
  const toMs = floorTo(nowMs, "hour") + grainMs("hour");
  return { fromMs: toMs - hours * grainMs("hour"), toMs };
}

/**
 * Average price per million tokens (prompt and completion together), in pico-USDC, rounded to the
 * nearest pico; null when no tokens were counted.
 */
export function pricePerMTokPico(costPico: bigint, tokens: bigint): bigint | null {
  if (tokens <= 0n) return null;
  return (costPico * 1_000_000n * 2n + tokens) / (2n * tokens);
}

const DAY = 86_400_000;
/** The longest range one report may cover (day rows: ~400 per key × model × provider). */
export const MAX_RANGE_DAYS = 400;
/** Hourly answers are 24× longer: a month of them at most. */
export const MAX_HOURLY_RANGE_DAYS = 31;
export const DEFAULT_RANGE_DAYS = 30;

/**
 * A report's [from, to): by default the 30 whole UTC days up to the end of today. The Finance API
 * and the dashboard both use this, so a page and its CSV link answer the same rows.
 */
export function reportRange(
  p: { from?: Date; to?: Date },
  nowMs: number,
  hourly: boolean,
): { from: Date; to: Date } | { error: "invalid_range" | "range_too_long"; message: string } {
  const to = p.to ?? new Date(Math.floor(nowMs / DAY) * DAY + DAY);
  const from = p.from ?? new Date(to.getTime() - DEFAULT_RANGE_DAYS * DAY);
  const maxDays = hourly ? MAX_HOURLY_RANGE_DAYS : MAX_RANGE_DAYS;
  if (from > to) return { error: "invalid_range", message: "'from' must not be after 'to'." };
  if (to.getTime() - from.getTime() > maxDays * DAY)
    return { error: "range_too_long", message: `The range may cover at most ${maxDays} days${hourly ? " by hour" : ""}.` };
  return { from, to };
}
