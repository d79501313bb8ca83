/**
 * The latency table's arithmetic: exponentially weighted moving averages of time-to-first-token,
 * time-per-output-token and success, per edge location × provider × model.
 *
 * A `ttftMs` or `tpotMs` of 0 means "not measured yet" (a row can exist because of failures
 * alone, or embeddings that have no tpot); the first real measurement seeds the average instead
 * of being averaged with 0, and ranking treats 0 as unknown.
 *
 * Success uses a slower alpha than latency: with 0.2 a single failure after a perfect history
 * drops the rate to 0.8, under the 0.9 routing floor, and one timeout would evict a provider.
 *
 * Every observation carries the time its attempt began. An operator's resume is a cut-off: what was
 * observed of attempts begun before it describes what the operator fixed, so the writer applies a
 * batch only when its oldest observation is not older than the provider's last resume (a batch that
 * straddles the resume is dropped whole: a few lost samples, never a resume undone).
 */
import { latencyKey, type LatencyStats } from "./types";

export interface LatencyObservation {
  edge: string;
  providerId: string;
  model: string;
  /** The provider did its part (a 4xx caused by the request counts as ok). */
  ok: boolean;
  ttftMs: number | null;
  tpotMs: number | null;
  /** When the observed attempt (or its request) began, epoch ms: only observations after a resume count. */
  atMs: number;
}

export type Observed = Pick<LatencyObservation, "ok" | "ttftMs" | "tpotMs">;

export const DEFAULT_LATENCY_ALPHA = 0.2;
export const DEFAULT_SUCCESS_ALPHA = 0.05;

const measured = (v: number | null): v is number => v !== null && Number.isFinite(v) && v > 0;

function ewma(prev: number, x: number, alpha: number): number {
  return prev * (1 - alpha) + x * alpha;
}

/** One observation folded into a row (or into nothing, for a new row). */
export function foldObservation(
  prev: LatencyStats | undefined,
  obs: Observed,
  alpha = DEFAULT_LATENCY_ALPHA,
  successAlpha = DEFAULT_SUCCESS_ALPHA,
): LatencyStats {
  const okValue = obs.ok ? 1 : 0;
  const prevTtft = prev?.ttftMs ?? 0;
  const prevTpot = prev?.tpotMs ?? 0;
  return {
    ttftMs: !measured(obs.ttftMs) ? prevTtft : prevTtft > 0 ? ewma(prevTtft, obs.ttftMs, alpha) : obs.ttftMs,
    tpotMs: !measured(obs.tpotMs) ? prevTpot : prevTpot > 0 ? ewma(prevTpot, obs.tpotMs, alpha) : obs.tpotMs,
    successRate: prev && prev.samples > 0 ? ewma(prev.successRate, okValue, successAlpha) : okValue,
    samples: (prev?.samples ?? 0) + 1,
  };
}

/**
 * n observations of one figure, folded so that one statement can apply them to any stored value:
 * new = old × decay + add when the old value exists (is measured), else `fresh`. This equals n
 * sequential folds exactly (up to float rounding), e.g. in SQL:
 *   ttft_ms = CASE WHEN ttft_ms > 0 THEN ttft_ms * :decay + :add ELSE :fresh END   (when n > 0)
 */
export interface FigureUpdate {
  /** How many observations carried this figure; 0 leaves the stored value alone. */
  n: number;
  decay: number;
  add: number;
  /** The value when there was nothing before. */
  fresh: number;
}

/** All of one batch's observations for one edge × provider × model: one upsert. */
export interface LatencyBatch {
  edge: string;
  providerId: string;
  model: string;
  count: number;
  /** The earliest `atMs` among them: the batch counts only if this is not before the provider's last resume. */
  oldestAtMs: number;
  ttftMs: FigureUpdate;
  tpotMs: FigureUpdate;
  successRate: FigureUpdate;
}

const emptyFigure = (): FigureUpdate => ({ n: 0, decay: 1, add: 0, fresh: 0 });

function pushFigure(f: FigureUpdate, x: number, alpha: number): void {
  f.decay *= 1 - alpha;
  f.add = ewma(f.add, x, alpha);
  f.fresh = f.n === 0 ? x : ewma(f.fresh, x, alpha);
  f.n++;
}

/**
 * Merges observations into one `LatencyBatch` per (edge, provider, model), in first-seen order,
 * for a batched upsert. Observation order within a key is kept (an EWMA weighs the latest most).
 */
export function aggregateObservations(
  list: readonly LatencyObservation[],
  alpha = DEFAULT_LATENCY_ALPHA,
  successAlpha = DEFAULT_SUCCESS_ALPHA,
): LatencyBatch[] {
  const byKey = new Map<string, LatencyBatch>();
  for (const o of list) {
    const key = latencyKey(o.edge, o.providerId, o.model);
    let b = byKey.get(key);
    if (!b) {
      b = {
        edge: o.edge,
        providerId: o.providerId,
        model: o.model,
        count: 0,
        oldestAtMs: o.atMs,
        ttftMs: emptyFigure(),
        tpotMs: emptyFigure(),
        successRate: emptyFigure(),
      };
      byKey.set(key, b);
    }
    b.count++;
    b.oldestAtMs = Math.min(b.oldestAtMs, o.atMs);
    pushFigure(b.successRate, o.ok ? 1 : 0, successAlpha);
    if (measured(o.ttftMs)) pushFigure(b.ttftMs, o.ttftMs, alpha);
    if (measured(o.tpotMs)) pushFigure(b.tpotMs, o.tpotMs, alpha);
  }
  return [...byKey.values()];
}

function applyFigure(prev: number | undefined, f: FigureUpdate, prevExists: boolean): number {
  if (f.n === 0) return prev ?? 0;
  return prevExists ? (prev ?? 0) * f.decay + f.add : f.fresh;
}

/** Whether a batch may be applied to a provider last resumed at `resumedAtMs` (null: never). */
export const countsAfterResume = (b: Pick<LatencyBatch, "oldestAtMs">, resumedAtMs: number | null): boolean =>
  resumedAtMs === null || b.oldestAtMs >= resumedAtMs;

/** A batch applied to a stored row: what the upsert computes, for adapters that read-modify-write. */
export function applyBatch(prev: LatencyStats | undefined, b: LatencyBatch): LatencyStats {
  return {
    ttftMs: applyFigure(prev?.ttftMs, b.ttftMs, (prev?.ttftMs ?? 0) > 0),
    tpotMs: applyFigure(prev?.tpotMs, b.tpotMs, (prev?.tpotMs ?? 0) > 0),
    successRate: applyFigure(prev?.successRate, b.successRate, (prev?.samples ?? 0) > 0),
    samples: (prev?.samples ?? 0) + b.count,
  };
}
