/**
 * The route table indexed once per load: offers grouped by (endpoint, model), each group pre-sorted
 * by input price and by output price (the static parts of a request's expected cost, which weighs
 * them by its prompt and expected output), with the worst-case prices admission reserves for.
 * A request then reads one group and walks it in cost order (route-walk.ts), never the whole table.
 *
 * A table loaded by the route store (route-store.ts) comes with its index, kept up to date by each
 * incremental refresh; any other table (tests, tools) is indexed on first use and kept beside it (a
 * WeakMap: the index is a pure function of the immutable table, so this is a memo, not state).
 */
import { groupOf } from "./route-group";
import { latencyKey, type Endpoint, type LatencyStats, type ProviderOffer, type RouteTable } from "./types";

/** One edge's latency rows, read by a group's position (undefined: no row). */
export interface EdgeRows {
  row(p: number): LatencyStats | undefined;
}

export interface OfferGroup {
  readonly model: string;
  /** In table order (the full ranking's order of exclusions). */
  readonly offers: readonly ProviderOffer[];
  /** Each offer's position in the route store (its latency rows' index); -1 outside a store. */
  readonly at: Int32Array;
  /** Positions into `offers`, by input price ascending / by output price ascending (ties: providerId). */
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
  /** An edge's latency rows aligned to `offers` (a store's typed arrays, or rows built on first use). */
  readonly latency: (edge: string) => EdgeRows;
}

export interface RouteIndex {
  /** A group may serve several endpoints (the same offers): one object, not a copy. */
  readonly groups: ReadonlyMap<Endpoint, ReadonlyMap<string, OfferGroup>>;
  /** Offers read to build the index (once per table). */
  readonly offerCount: number;
}

const memo = new WeakMap<RouteTable, RouteIndex>();

/** The table's index, built on first use (a store's table has it already). */
export function routeIndex(table: RouteTable): RouteIndex {
  let idx = memo.get(table);
  if (!idx) {
    idx = buildRouteIndex(table);
    memo.set(table, idx);
  }
  return idx;
}

/** The route store hands its table over with the index it keeps. */
export function withIndex(table: RouteTable, index: RouteIndex): RouteTable {
  memo.set(table, index);
  return table;
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
    for (const [model, offers] of byModel) {
      const edges = new Map<string, EdgeRows>();
      const latency = (edge: string): EdgeRows => {
        let rows = edges.get(edge);
        if (!rows) {
          const list = offers.map((o) => table.latency.get(latencyKey(edge, o.providerId, o.model)));
          rows = { row: (p) => list[p] };
          edges.set(edge, rows);
        }
        return rows;
      };
      out.set(model, groupOf(model, offers, new Int32Array(offers.length).fill(-1), latency));
    }
    groups.set(endpoint, out);
  }
  return { groups, offerCount: table.offers.length };
}

export function offerGroup(index: RouteIndex, model: string, endpoint: Endpoint): OfferGroup | undefined {
  return index.groups.get(endpoint)?.get(model);
}

/** The group's latency rows for this edge, aligned to its offers. */
export function edgeLatency(g: OfferGroup, _table: RouteTable, edge: string): EdgeRows {
  return g.latency(edge);
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
