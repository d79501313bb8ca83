/**
 * The routing decision: which providers may serve this request, best first. Pure and in-memory:
 * the table, the request, the clock and the breakers are arguments.
 *
 * - Healthy: serves the model and endpoint; heartbeat fresh (an operator-vouched provider: probed
 *   within `probedFreshMs`); not suspended; stake ok (operator-vouched providers need none, see
 *   health.ts); load below
 *   its limit; breaker available; success rate on the caller's edge ≥ the floor (once there are
 *   enough samples); prompt (+ max output) fits the context length.
 * - Cheapest first, by the expected cost of this request (bigint pico-USDC). Offers whose cost is
 *   within `nearTieRatio` of the cheapest offer of their band are a tie, ordered by the latency
 *   table for the caller's edge (ttft + expected output × tpot; unknown latency after known).
 * - Steering (`provider` object): `only` / `ignore` / `max_price` filter; `order` puts those
 *   providers first in that order, then the rest by the normal ranking, or nothing else when
 *   `allow_fallbacks` is false (without `order`, false keeps only the top-ranked provider);
 *   `sort: "latency"` ranks by ttft, `"throughput"` by tpot, `"price"` is the default.
 *
 * Breakers: ranking only peeks (`isAvailable`: closed, or open past its cooldown with no trial in
 * flight) and never takes the half-open trial. The pipeline calls `board.onAttempt(id, nowMs)`
 * right before it sends; if that returns false (another request took the trial) it skips the
 * provider. So several requests may rank a cooled-down provider, but only one is sent to it.
 */
import type { BreakerBoard } from "./breaker";
import { isFresh, lacksStake, PROBED_FRESH_MS } from "./health";
import { steeringExclusion, type ProviderPreferences } from "./steering";
import { latencyKey, type Endpoint, type LatencyStats, type ProviderOffer, type RouteTable } from "./types";

export type ExclusionReason =
  | "excluded"
  | "steering"
  | "over_max_price"
  | "context_too_long"
  | "suspended"
  | "no_stake"
  | "stale_heartbeat"
  | "circuit_open"
  | "overloaded"
  | "low_success_rate";

export interface RoutingPolicy {
  heartbeatFreshMs: number;
  /** How long a successful probe keeps an operator-vouched provider (no wallet, no heartbeats) fresh. */
  probedFreshMs: number;
  minSuccessRate: number;
  minSamplesForSuccessRate: number;
  /** Expected costs within this fraction of the cheaper one are a tie (0.05 = 5 %). */
  nearTieRatio: number;
  /** Expected output when the request sets no max tokens. */
  defaultExpectedOutputTokens: number;
}

export const DEFAULT_ROUTING_POLICY: RoutingPolicy = {
  heartbeatFreshMs: 30_000,
  probedFreshMs: PROBED_FRESH_MS,
  minSuccessRate: 0.9,
  minSamplesForSuccessRate: 5,
  nearTieRatio: 0.05,
  defaultExpectedOutputTokens: 256,
};

export interface RouteRequest {
  model: string;
  endpoint: Endpoint;
  /** The caller's edge location (colo), the latency table's first key. */
  edge: string;
  promptTokens: number;
  maxOutputTokens: number | null;
  steering: ProviderPreferences | undefined;
  /** Providers the pipeline will not try again for this request. */
  excludeProviderIds?: ReadonlySet<string>;
}

export interface RankContext {
  nowMs: number;
  breakers: Pick<BreakerBoard, "isAvailable">;
  policy: RoutingPolicy;
}

export interface Exclusion {
  providerId: string;
  reason: ExclusionReason;
}

export interface RankResult {
  ranked: ProviderOffer[];
  excluded: Exclusion[];
  /** Some offer serves this model on this endpoint, healthy or not. */
  modelKnown: boolean;
}

interface Candidate {
  offer: ProviderOffer;
  costPico: bigint;
  ttftMs: number | null;
  tpotMs: number | null;
  /** ttft + expected output × tpot; null when a needed figure is unknown. */
  latencyScore: number | null;
}

export const expectedOutputTokens = (req: RouteRequest, policy: RoutingPolicy) =>
  req.endpoint === "embeddings" ? 0 : (req.maxOutputTokens ?? policy.defaultExpectedOutputTokens);

/** This request's expected cost at this offer: prompt × input price + expected output × output price. */
export function expectedCostPico(offer: ProviderOffer, req: RouteRequest, policy: RoutingPolicy = DEFAULT_ROUTING_POLICY): bigint {
  return BigInt(req.promptTokens) * offer.inputPrice + BigInt(expectedOutputTokens(req, policy)) * offer.outputPrice;
}

/** Why this offer may not serve this request now, or null (the per-request checks). */
export function exclusionOf(
  o: ProviderOffer,
  stats: LatencyStats | undefined,
  req: RouteRequest,
  ctx: RankContext,
): ExclusionReason | null {
  const { policy, nowMs } = ctx;
  const s = req.steering;
  if (req.excludeProviderIds?.has(o.providerId)) return "excluded";
  const steered = steeringExclusion(s, o);
  if (steered) return steered;
  if (s?.allow_fallbacks === false && s.order?.length && !s.order.includes(o.providerId)) return "steering";
  const needed = req.promptTokens + (req.endpoint === "embeddings" ? 0 : (req.maxOutputTokens ?? 0));
  if (needed > o.contextLength) return "context_too_long";
  if (o.suspended) return "suspended";
  if (lacksStake(o)) return "no_stake";
  if (!isFresh(o, nowMs, policy)) return "stale_heartbeat";
  if (!ctx.breakers.isAvailable(o.providerId, nowMs)) return "circuit_open";
  if (o.waitingRequests >= o.maxWaitingRequests) return "overloaded";
  if (stats && stats.samples >= policy.minSamplesForSuccessRate && stats.successRate < policy.minSuccessRate) {
    return "low_success_rate";
  }
  return null;
}

function toCandidate(offer: ProviderOffer, stats: LatencyStats | undefined, req: RouteRequest, policy: RoutingPolicy): Candidate {
  const ttftMs = stats && stats.ttftMs > 0 ? stats.ttftMs : null; // 0 = not measured yet
  const tpotMs = stats && stats.tpotMs > 0 ? stats.tpotMs : null;
  const latencyScore = latencyScoreOf(stats, expectedOutputTokens(req, policy));
  return { offer, costPico: expectedCostPico(offer, req, policy), ttftMs, tpotMs, latencyScore };
}

/** ttft + expected output × tpot on the caller's edge; null when a needed figure is unknown (0 = not measured yet). */
export function latencyScoreOf(stats: LatencyStats | undefined, out: number): number | null {
  const ttftMs = stats && stats.ttftMs > 0 ? stats.ttftMs : null;
  const tpotMs = stats && stats.tpotMs > 0 ? stats.tpotMs : null;
  return ttftMs === null ? null : out === 0 ? ttftMs : tpotMs === null ? null : ttftMs + out * tpotMs;
}

const byCost = (a: Candidate, b: Candidate) =>
  a.costPico < b.costPico
    ? -1
    : a.costPico > b.costPico
      ? 1
      : a.offer.providerId < b.offer.providerId
        ? -1
        : a.offer.providerId > b.offer.providerId
          ? 1
          : 0;

/** Known values first, ascending; unknown after; then by cost. */
const byFigure = (pick: (c: Candidate) => number | null) => (a: Candidate, b: Candidate) => {
  const x = pick(a);
  const y = pick(b);
  if (x !== null && y !== null && x !== y) return x - y;
  if ((x === null) !== (y === null)) return x === null ? 1 : -1;
  return byCost(a, b);
};

/** Cheapest first; a band of near-ties (within ratio of the band's cheapest) is ordered by latency. */
function byPriceWithLatencyTies(cands: Candidate[], nearTieRatio: number): Candidate[] {
  const sorted = [...cands].sort(byCost);
  const ppm = BigInt(Math.max(0, Math.round(nearTieRatio * 1_000_000)));
  const out: Candidate[] = [];
  let i = 0;
  while (i < sorted.length) {
    const anchor = sorted[i]!.costPico;
    let j = i + 1;
    while (j < sorted.length && (sorted[j]!.costPico - anchor) * 1_000_000n <= anchor * ppm) j++;
    out.push(...sorted.slice(i, j).sort(byFigure((c) => c.latencyScore)));
    i = j;
  }
  return out;
}

export function rankCandidates(table: RouteTable, req: RouteRequest, ctx: RankContext): RankResult {
  let excluded: Exclusion[] = [];
  let healthy: Candidate[] = [];
  /** Offers excluded only for a low success rate: a last resort, better than refusing outright. */
  const lastResort: Candidate[] = [];
  let modelKnown = false;
  for (const offer of table.offers) {
    if (offer.model !== req.model || !offer.endpoints.includes(req.endpoint)) continue;
    modelKnown = true;
    const stats = table.latency.get(latencyKey(req.edge, offer.providerId, offer.model));
    const reason = exclusionOf(offer, stats, req, ctx);
    if (reason === "low_success_rate") lastResort.push(toCandidate(offer, stats, req, ctx.policy));
    if (reason) excluded.push({ providerId: offer.providerId, reason });
    else healthy.push(toCandidate(offer, stats, req, ctx.policy));
  }
  if (healthy.length === 0 && lastResort.length > 0) {
    healthy = lastResort;
    excluded = excluded.filter((e) => e.reason !== "low_success_rate");
  }

  const sort = req.steering?.sort ?? "price";
  let ranked =
    sort === "latency"
      ? [...healthy].sort(byFigure((c) => c.ttftMs))
      : sort === "throughput"
        ? [...healthy].sort(byFigure((c) => c.tpotMs))
        : byPriceWithLatencyTies(healthy, ctx.policy.nearTieRatio);

  const order = req.steering?.order ?? [];
  if (order.length > 0) {
    const first = [...new Set(order)].flatMap((id) => ranked.filter((c) => c.offer.providerId === id));
    ranked = [...first, ...ranked.filter((c) => !order.includes(c.offer.providerId))];
  } else if (req.steering?.allow_fallbacks === false && ranked.length > 1) {
    for (const c of ranked.slice(1)) excluded.push({ providerId: c.offer.providerId, reason: "steering" });
    ranked = ranked.slice(0, 1);
  }
  return { ranked: ranked.map((c) => c.offer), excluded, modelKnown };
}

const LABELS: Record<ExclusionReason, string> = {
  excluded: "already tried",
  steering: "excluded by steering",
  over_max_price: "over max price",
  context_too_long: "context too long",
  suspended: "suspended",
  no_stake: "no stake",
  stale_heartbeat: "stale heartbeat",
  circuit_open: "circuit open",
  overloaded: "overloaded",
  low_success_rate: "low success rate",
};

/** "2 stale heartbeat, 1 circuit open": most frequent first, for error messages. */
export function summarizeExclusions(excluded: readonly Exclusion[]): string {
  if (excluded.length === 0) return "no providers";
  const counts = new Map<ExclusionReason, number>();
  for (const e of excluded) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${n} ${LABELS[reason]}`)
    .join(", ");
}

const CALLER_CAUSED: ReadonlySet<ExclusionReason> = new Set(["steering", "over_max_price", "context_too_long"]);

/**
 * True when every exclusion is the request's own doing (its provider preferences or its size), so
 * retrying the same request cannot help: answer 4xx (`noProviderMatches`) rather than 503.
 */
export function excludedByRequest(excluded: readonly Exclusion[]): boolean {
  return excluded.length > 0 && excluded.every((e) => CALLER_CAUSED.has(e.reason));
}
