/**
 * The routing decision with bounded work: the same order as `rankCandidates` (rank.ts), produced
 * lazily from the route index (route-index.ts), so a request that tries three providers inspects
 * about three offers (plus the near-tie band they fall in), not the table.
 *
 * The walk, for one (model, endpoint) group:
 *  1. A cost stream yields the group's offers in exact (expected cost, providerId) order without
 *     sorting them: it reads the by-input-price and by-output-price lists in turn (Fagin's
 *     threshold algorithm; an unread offer costs at least prompt × the next input price + output ×
 *     the next output price) and emits a read offer once nothing unread can come before it.
 *  2. The band's anchor is the first offer of the stream that passes the per-request checks
 *     (`exclusionOf`: exclusions, steering filters, context length, freshness, breaker, load,
 *     success rate); every offer within `nearTieRatio` of its cost joins the band, ordered by
 *     latency (then cost); each is checked only when it is its turn to be yielded.
 *  3. Nothing healthy at all (the low-success last resort, or no provider): the full ranking of the
 *     group, so its exclusions (the error message) are exactly the old ones.
 *
 * The slower path, the full ranking of the group (still one group, never the table): `sort:
 * "latency"` or `"throughput"`, `order`, `allow_fallbacks: false`, and prices or costs too large
 * for exact float arithmetic (2^53 pico-USDC).
 */
import { PositionHeap, type PositionOrder } from "./heap";
import {
  exclusionOf,
  expectedOutputTokens,
  latencyScoreOf,
  rankCandidates,
  type Exclusion,
  type RankContext,
  type RouteRequest,
} from "./rank";
import { edgeLatency, offerGroup, routeIndex, type EdgeRows, type OfferGroup } from "./route-index";
import type { ProviderOffer, RouteTable } from "./types";

/** What a walk did: offers whose prices it read, offers it checked, whether it fell back to the full ranking. */
export interface RouteWork {
  read: number;
  checked: number;
  fullRank: boolean;
}

export interface Routing {
  /** Some offer serves this model on this endpoint, healthy or not. */
  modelKnown: boolean;
  /** Best first, computed as it is walked (one pass). */
  ranked: Iterable<ProviderOffer>;
  /** The offers the walk has ruled out so far; all of them once it found nobody. */
  excluded: Exclusion[];
  work: RouteWork;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function route(table: RouteTable, req: RouteRequest, ctx: RankContext): Routing {
  const work: RouteWork = { read: 0, checked: 0, fullRank: false };
  const g = offerGroup(routeIndex(table), req.model, req.endpoint);
  if (!g) return { modelKnown: false, ranked: [], excluded: [], work };
  const excluded: Exclusion[] = [];
  const s = req.steering;
  const out = expectedOutputTokens(req, ctx.policy);
  const fast =
    (s?.sort ?? "price") === "price" &&
    !s?.order?.length &&
    s?.allow_fallbacks !== false &&
    g.pricesExact &&
    Number.isSafeInteger(req.promptTokens) &&
    req.promptTokens >= 0 &&
    Number.isSafeInteger(out) &&
    out >= 0 &&
    BigInt(req.promptTokens) * g.maxInputPrice + BigInt(out) * g.maxOutputPrice <= SAFE;
  const ranked = fast ? walk(new Walk(table, g, req, ctx, excluded, work)) : fullRank(table, g, req, ctx, excluded, work);
  return { modelKnown: true, ranked, excluded, work };
}

/** The first k of `route`'s ranking, and what it took. */
export function rankTop(table: RouteTable, req: RouteRequest, ctx: RankContext, k: number) {
  const r = route(table, req, ctx);
  const ranked: ProviderOffer[] = [];
  if (k > 0) {
    for (const o of r.ranked) {
      ranked.push(o);
      if (ranked.length >= k) break;
    }
  }
  return { ranked, excluded: [...r.excluded], modelKnown: r.modelKnown, work: r.work };
}

function fullRank(table: RouteTable, g: OfferGroup, req: RouteRequest, ctx: RankContext, excluded: Exclusion[], work: RouteWork) {
  work.fullRank = true;
  work.read += g.offers.length;
  work.checked += g.offers.length;
  const r = rankCandidates({ offers: g.offers, latency: table.latency, loadedAtMs: table.loadedAtMs }, req, ctx);
  excluded.length = 0;
  excluded.push(...r.excluded);
  return r.ranked;
}

/** One request's walk over one group: the cost order, the stream's state, the checks. Methods, no closures. */
class Walk implements PositionOrder {
  readonly offers: readonly ProviderOffer[];
  readonly rows: EdgeRows;
  readonly out: number;
  /** The stream: offers read but not yet emitted, and how far each price list has been read. */
  readonly read: PositionHeap;
  a = 0;
  b = 0;
  turn = 0;
  readonly byLatency: PositionOrder;

  constructor(
    readonly table: RouteTable,
    readonly g: OfferGroup,
    readonly req: RouteRequest,
    readonly ctx: RankContext,
    readonly excluded: Exclusion[],
    readonly work: RouteWork,
  ) {
    this.offers = g.offers;
    this.rows = edgeLatency(g, table, req.edge);
    this.out = expectedOutputTokens(req, ctx.policy);
    this.read = new PositionHeap(this);
    this.byLatency = new LatencyOrder(this);
  }

  cost(p: number): number {
    return this.req.promptTokens * this.g.inputPrice[p]! + this.out * this.g.outputPrice[p]!;
  }

  /** Cheaper, then the smaller provider id (byCost in rank.ts). */
  before(a: number, b: number): boolean {
    const x = this.cost(a);
    const y = this.cost(b);
    return x < y || (x === y && this.offers[a]!.providerId < this.offers[b]!.providerId);
  }

  /** The band's heap key: the latency score, unknown last (+∞; ties go to LatencyOrder). */
  latencyKey(p: number): number {
    return latencyScoreOf(this.rows.row(p), this.out) ?? Number.POSITIVE_INFINITY;
  }

  healthy(p: number): boolean {
    this.work.checked++;
    const o = this.offers[p]!;
    const reason = exclusionOf(o, this.rows.row(p), this.req, this.ctx);
    if (reason) this.excluded.push({ providerId: o.providerId, reason });
    return reason === null;
  }

  /** The next offer in exact (cost, id) order, or -1: emitted once no unread offer can cost less. */
  next(): number {
    const { g, read } = this;
    const n = g.offers.length;
    const P = this.req.promptTokens;
    const O = this.out;
    for (;;) {
      if (this.a >= n || this.b >= n) return read.pop();
      // Every unread offer has input ≥ the next input price and output ≥ the next output price.
      const bound = P * g.inputPrice[g.byInput[this.a]!]! + O * g.outputPrice[g.byOutput[this.b]!]!;
      if (read.peekKey() < bound) return read.pop();
      if (O === 0 || (P !== 0 && (this.turn++ & 1) === 0)) {
        const p = g.byInput[this.a++]!;
        if (g.outputRank[p]! >= this.b) this.take(p);
      } else {
        const p = g.byOutput[this.b++]!;
        if (g.inputRank[p]! >= this.a) this.take(p);
      }
    }
  }

  private take(p: number): void {
    this.work.read++;
    this.read.push(p, this.cost(p));
  }
}

/** Within a band: known latency first, ascending; unknown after; then the cost order (byFigure in rank.ts). */
class LatencyOrder implements PositionOrder {
  constructor(private readonly w: Walk) {}

  before(a: number, b: number): boolean {
    const x = latencyScoreOf(this.w.rows.row(a), this.w.out);
    const y = latencyScoreOf(this.w.rows.row(b), this.w.out);
    if (x !== null && y !== null && x !== y) return x < y;
    if ((x === null) !== (y === null)) return x !== null;
    return this.w.before(a, b);
  }
}

function* walk(w: Walk): Generator<ProviderOffer> {
  const ppm = BigInt(Math.max(0, Math.round(w.ctx.policy.nearTieRatio * 1_000_000)));
  let yielded = 0;
  let pending = -1;
  for (;;) {
    let anchor = -1;
    while (anchor < 0) {
      const p = pending >= 0 ? pending : w.next();
      pending = -1;
      if (p < 0) break;
      if (w.healthy(p)) anchor = p;
    }
    if (anchor < 0) break;
    const A = w.cost(anchor);
    // (c − A) × 10^6 ≤ A × ppm, for integer costs: c − A ≤ ⌊A × ppm / 10^6⌋.
    const slack = Number((BigInt(A) * ppm) / 1_000_000n);
    const band = new PositionHeap(w.byLatency);
    band.push(anchor, w.latencyKey(anchor));
    for (;;) {
      const p = w.next();
      if (p < 0) break;
      if (w.cost(p) - A > slack) {
        pending = p;
        break;
      }
      band.push(p, w.latencyKey(p));
    }
    while (band.size > 0) {
      const p = band.pop();
      if (p === anchor || w.healthy(p)) {
        yielded++;
        yield w.offers[p]!;
      }
    }
  }
  if (yielded === 0) yield* fullRank(w.table, w.g, w.req, w.ctx, w.excluded, w.work);
}
