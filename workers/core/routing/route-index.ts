/**
 * The route table indexed once per load: offers grouped by (endpoint, model), each group pre-sorted
 * by input price and by output price (the static parts of a request's expected cost, which weighs
 * them by its prompt and expected output), with the worst-case prices admission reserves for.
 * A request then reads one group and walks it in cost order (route-walk.ts), never the whole table.
 *
 * Built lazily on first use of a table object and kept beside it (a WeakMap: the index is a pure
 * function of the immutable table, so this is a memo, not state); the latency rows of an edge are
 * aligned to a group on the first request from that edge.
 */
import { latencyKey, type Endpoint, type LatencyStats, type ProviderOffer, type RouteTable } from "./types";

export interface OfferGroup {
  readonly model: string;
  readonly endpoint: Endpoint;
  /** In table order (the full ranking's order of exclusions). */
  readonly offers: readonly ProviderOffer[];
  /** Positions into `offers`, by input price ascending / by output price ascending. */
  readonly byInput: Int32Array;
  readonly byOutput: Int32Array;
  /** Where each offer stands in `byInput` / `byOutput` (a walk knows what it has read without a set). */
  readonly inputRank: Int32Array;
  readonly outputRank: Int32Array;
  /** The prices as numbers (exact: only used when every price and cost fits 2^53, see `pricesExact`). */
  readonly inputPrice: Float64Array;
  readonly outputPrice: Float64Array;
  /** Every price is a safe integer as a number. */
  readonly pricesExact: boolean;
  /** The most any offer of the group may charge: admission's worst case. */
  readonly maxInputPrice: bigint;
  readonly maxOutputPrice: bigint;
  readonly maxContextLength: number;
  /** Latency rows for one edge, aligned to `offers` (undefined: no row). Filled on first use. */
  readonly edges: Map<string, readonly (LatencyStats | undefined)[]>;
}

export interface RouteIndex {
  readonly groups: ReadonlyMap<Endpoint, ReadonlyMap<string, OfferGroup>>;
  /** Offers read to build the index (once per table). */
  readonly offerCount: number;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const memo = new WeakMap<RouteTable, RouteIndex>();

/** The table's index, built on first use. */
export function routeIndex(table: RouteTable): RouteIndex {
  let idx = memo.get(table);
  if (!idx) {
    idx = buildRouteIndex(table);
    memo.set(table, idx);
  }
  return idx;
}

export function buildRouteIndex(table: RouteTable): RouteIndex {
  const lists = new Map<Endpoint, Map<string, ProviderOffer[]>>();
  for (const o of table.offers) {
    for (const e of new Set(o.endpoints)) {
      let byModel = lists.get(e);
      if (!byModel) lists.set(e, (byModel = new Map()));
      const list = byModel.get(o.model);
      if (list) list.push(o);
      else byModel.set(o.model, [o]);
    }
  }
  const groups = new Map<Endpoint, Map<string, OfferGroup>>();
  for (const [endpoint, byModel] of lists) {
    const out = new Map<string, OfferGroup>();
    for (const [model, offers] of byModel) out.set(model, group(model, endpoint, offers));
    groups.set(endpoint, out);
  }
  return { groups, offerCount: table.offers.length };
}

function group(model: string, endpoint: Endpoint, offers: ProviderOffer[]): OfferGroup {
  const n = offers.length;
  const inputPrice = new Float64Array(n);
  const outputPrice = new Float64Array(n);
  let pricesExact = true;
  let maxInputPrice = 0n;
  let maxOutputPrice = 0n;
  let maxContextLength = 0;
  for (let i = 0; i < n; i++) {
    const o = offers[i]!;
    if (o.inputPrice < 0n || o.outputPrice < 0n || o.inputPrice > SAFE || o.outputPrice > SAFE) pricesExact = false;
    inputPrice[i] = Number(o.inputPrice);
    outputPrice[i] = Number(o.outputPrice);
    if (o.inputPrice > maxInputPrice) maxInputPrice = o.inputPrice;
    if (o.outputPrice > maxOutputPrice) maxOutputPrice = o.outputPrice;
    if (o.contextLength > maxContextLength) maxContextLength = o.contextLength;
  }
  const sorted = (price: Float64Array) => Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => price[a]! - price[b]!);
  const byInput = sorted(inputPrice);
  const byOutput = sorted(outputPrice);
  const inputRank = new Int32Array(n);
  const outputRank = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    inputRank[byInput[i]!] = i;
    outputRank[byOutput[i]!] = i;
  }
  return {
    model,
    endpoint,
    offers,
    byInput,
    byOutput,
    inputRank,
    outputRank,
    inputPrice,
    outputPrice,
    pricesExact,
    maxInputPrice,
    maxOutputPrice,
    maxContextLength,
    edges: new Map(),
  };
}

export function offerGroup(index: RouteIndex, model: string, endpoint: Endpoint): OfferGroup | undefined {
  return index.groups.get(endpoint)?.get(model);
}

/** The group's latency rows for this edge, aligned to its offers (built once per edge). */
export function edgeLatency(g: OfferGroup, table: RouteTable, edge: string): readonly (LatencyStats | undefined)[] {
  let rows = g.edges.get(edge);
  if (!rows) {
    rows = g.offers.map((o) => table.latency.get(latencyKey(edge, o.providerId, o.model)));
    g.edges.set(edge, rows);
  }
  return rows;
}

/** What admission reserves for: the highest prices and context length over every offer of these models. */
export interface WorstCase {
  inputPrice: bigint;
  outputPrice: bigint;
  contextLength: number;
}

/** The worst case over the request's models (fallbacks included) on this endpoint; null when nobody serves them. */
export function worstCaseOf(table: RouteTable, models: readonly string[], endpoint: Endpoint): WorstCase | null {
  const index = routeIndex(table);
  let w: WorstCase | null = null;
  for (const m of new Set(models)) {
    const g = offerGroup(index, m, endpoint);
    if (!g) continue;
    w ??= { inputPrice: 0n, outputPrice: 0n, contextLength: 0 };
    if (g.maxInputPrice > w.inputPrice) w.inputPrice = g.maxInputPrice;
    if (g.maxOutputPrice > w.outputPrice) w.outputPrice = g.maxOutputPrice;
    if (g.maxContextLength > w.contextLength) w.contextLength = g.maxContextLength;
  }
  return w;
}
