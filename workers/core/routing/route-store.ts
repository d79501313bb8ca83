/**
 * The route table an isolate keeps, and how it changes: offers in slots (a position per offer,
 * stable until the next full load), each provider's slots chained, latency rows for the isolate's
 * own edges in typed arrays by slot (edge-latency.ts), and the index (route-index.ts) kept up to
 * date group by group. `apply` takes changed providers (each with its whole offer set) and changed
 * latency rows: a provider whose prices did not move only has its offers replaced in its groups
 * (a heartbeat), a repriced, new or removed offer has its groups merged anew (route-group.ts), and
 * groups nothing touched are shared with the previous table. Work follows the change, not the size.
 *
 * Pure and synchronous: the caller (adapters/route-source.ts) reads the rows and the database clock.
 * A table handed out is never changed, except its latency figures, which are read live.
 */
import { EdgeLatency } from "./edge-latency";
import { groupOf } from "./route-group";
import { withIndex, type EdgeRows, type OfferGroup } from "./route-index";
import type { LatencyRow, OfferRow, ProviderRow, RouteRows } from "./route-rows";
import type { Endpoint, LatencyLookup, LatencyStats, ProviderOffer, RouteTable } from "./types";

const ENDPOINTS: readonly Endpoint[] = ["chat", "completions", "embeddings"];
const NO_ROWS: EdgeRows = { row: () => undefined };

export class RouteStore implements LatencyLookup {
  private readonly slots: (ProviderOffer | undefined)[] = [];
  private readonly first = new Map<string, number>();
  private next = new Int32Array(0);
  private readonly edges = new Map<string, EdgeLatency>();
  private readonly groups = new Map<Endpoint, Map<string, OfferGroup>>();
  private readonly strings = new Map<string, string>();
  private readonly endpointSets = new Map<string, readonly Endpoint[]>();
  private live = 0;

  /** The database clock of the newest rows applied: the next refresh reads what changed after it. */
  snapshotMs: number;

  constructor(edges: readonly string[], snapshotMs: number) {
    for (const e of edges) this.edges.set(e, new EdgeLatency());
    this.snapshotMs = snapshotMs;
  }

  /** A full load: every provider and the edges' latency rows. */
  static load(rows: RouteRows, edges: readonly string[], snapshotMs: number): RouteStore {
    const s = new RouteStore(edges, snapshotMs);
    s.apply(rows, snapshotMs);
    return s;
  }

  get edgeNames(): string[] {
    return [...this.edges.keys()];
  }

  hasEdge(edge: string): boolean {
    return this.edges.has(edge);
  }

  /** Another edge served by this isolate (rare): its rows, read whole. */
  addEdge(edge: string, rows: readonly LatencyRow[]): void {
    if (!this.edges.has(edge)) this.edges.set(edge, new EdgeLatency());
    this.applyLatency(rows);
  }

  /** Changed rows, read at `snapshotMs`; false (nothing applied) when they are older than what it holds. */
  apply(rows: RouteRows, snapshotMs: number): boolean {
    if (snapshotMs < this.snapshotMs) return false;
    this.snapshotMs = snapshotMs;
    const touched = new Map<string, number[]>();
    /** Slots whose groups must be rebuilt (new, removed, repriced, other endpoints or context); the rest are patched. */
    const structural = new Set<string>();
    const repriced = new Set<number>();
    const touch = (model: string, pos: number) => {
      const list = touched.get(model);
      if (list) list.push(pos);
      else touched.set(model, [pos]);
    };
    for (const { provider, offers } of rows.providers) {
      const before = new Map<string, number>();
      for (let p = this.first.get(provider.id) ?? -1; p >= 0; p = this.next[p]!) before.set(this.slots[p]!.model, p);
      const now: number[] = [];
      for (const r of offers) {
        const o = this.offerOf(provider, r);
        let pos = before.get(o.model);
        if (pos === undefined) {
          pos = this.slots.length;
          this.slots.push(o);
          this.live++;
          structural.add(o.model);
        } else {
          before.delete(o.model);
          const prev = this.slots[pos]!;
          if (prev.inputPrice !== o.inputPrice || prev.outputPrice !== o.outputPrice) repriced.add(pos);
          // Endpoint lists are interned: the same list is the same object.
          if (repriced.has(pos) || prev.endpoints !== o.endpoints || prev.contextLength !== o.contextLength) structural.add(o.model);
          this.slots[pos] = o;
        }
        now.push(pos);
        touch(o.model, pos);
      }
      for (const [model, pos] of before) {
        this.slots[pos] = undefined;
        this.live--;
        for (const e of this.edges.values()) e.clear(pos);
        touch(model, pos);
        structural.add(model);
      }
      this.chain(provider.id, now);
    }
    for (const e of this.edges.values()) e.reserve(this.slots.length);
    this.applyLatency(rows.latency);
    for (const [model, positions] of touched) {
      if (structural.has(model)) this.regroup(model, positions, repriced);
      else this.patch(model, positions);
    }
    return true;
  }

  /** The table as it stands now, with its index. */
  table(nowMs: number): RouteTable {
    const offers = new Array<ProviderOffer>(this.live);
    let n = 0;
    for (const o of this.slots) if (o) offers[n++] = o;
    const groups = new Map<Endpoint, ReadonlyMap<string, OfferGroup>>();
    for (const [e, byModel] of this.groups) groups.set(e, new Map(byModel));
    return withIndex({ offers, latency: this, loadedAtMs: nowMs }, { groups, offerCount: this.live });
  }

  /** LatencyLookup: latencyKey(edge, providerId, model) read from the typed arrays. */
  get(key: string): LatencyStats | undefined {
    const bar = key.indexOf("|");
    const rows = this.edges.get(key.slice(0, bar));
    if (bar < 0 || !rows) return undefined;
    for (let i = key.indexOf("|", bar + 1); i >= 0; i = key.indexOf("|", i + 1)) {
      const pos = this.find(key.slice(bar + 1, i), key.slice(i + 1));
      if (pos !== undefined) return rows.get(pos);
    }
    return undefined;
  }

  private find(providerId: string, model: string): number | undefined {
    for (let p = this.first.get(providerId) ?? -1; p >= 0; p = this.next[p]!) if (this.slots[p]!.model === model) return p;
    return undefined;
  }

  private applyLatency(rows: readonly LatencyRow[]): void {
    for (const r of rows) {
      const e = this.edges.get(r.edge);
      const pos = e && this.find(r.providerId, r.model);
      if (e && pos !== undefined) e.set(pos, r);
    }
  }

  private chain(providerId: string, positions: number[]): void {
    if (positions.length === 0) {
      this.first.delete(providerId);
      return;
    }
    const need = this.slots.length;
    if (this.next.length < need) {
      const grown = new Int32Array(Math.max(need, Math.ceil(this.next.length * 1.5), 64));
      grown.set(this.next);
      this.next = grown;
    }
    this.first.set(providerId, positions[0]!);
    for (let i = 0; i < positions.length; i++) this.next[positions[i]!] = positions[i + 1] ?? -1;
  }

  /** Rebuilds a model's groups from the ones they replace: members in slot order, prices merged. */
  private regroup(model: string, touched: number[], repriced: ReadonlySet<number>): void {
    const fresh = [...new Set(touched)].sort((a, b) => a - b);
    const built: { members: Int32Array; group: OfferGroup }[] = [];
    for (const e of ENDPOINTS) {
      const old = this.groups.get(e)?.get(model);
      const members = this.members(model, e, old, fresh);
      let byModel = this.groups.get(e);
      if (members.length === 0) {
        byModel?.delete(model);
        continue;
      }
      let group = built.find((b) => sameMembers(b.members, members))?.group;
      if (!group) {
        const offers = new Array<ProviderOffer>(members.length);
        for (let i = 0; i < members.length; i++) offers[i] = this.slots[members[i]!]!;
        const base = old && { group: old, keep: keepMap(old.at, members, repriced) };
        group = groupOf(model, offers, members, this.latencyOf(members), base);
        built.push({ members, group });
      }
      if (!byModel) this.groups.set(e, (byModel = new Map()));
      byModel.set(model, group);
    }
  }

  /** Same offers, same prices (a heartbeat, a suspension): the groups keep their orders, with the new offer objects. */
  private patch(model: string, positions: readonly number[]): void {
    const replaced = new Map<OfferGroup, OfferGroup>();
    for (const byModel of this.groups.values()) {
      const old = byModel.get(model);
      if (!old) continue;
      let g = replaced.get(old);
      if (!g) {
        const offers = old.offers.slice();
        for (const pos of positions) {
          const local = indexIn(old.at, pos);
          if (local >= 0) offers[local] = this.slots[pos]!;
        }
        g = { ...old, offers };
        replaced.set(old, g);
      }
      byModel.set(model, g);
    }
  }

  /** The slots of (model, endpoint): the old group's still serving it, merged with the touched ones, ascending. */
  private members(model: string, e: Endpoint, old: OfferGroup | undefined, fresh: readonly number[]): Int32Array {
    // Endpoint lists are interned: a few distinct objects, each asked once.
    let list: readonly Endpoint[] | undefined;
    let listServes = false;
    const at = old?.at ?? new Int32Array(0);
    const out = new Int32Array(at.length + fresh.length);
    let n = 0;
    let i = 0;
    let j = 0;
    while (i < at.length || j < fresh.length) {
      const a = i < at.length ? at[i]! : Number.MAX_SAFE_INTEGER;
      const f = j < fresh.length ? fresh[j]! : Number.MAX_SAFE_INTEGER;
      const p = a < f ? a : f;
      if (a === p) i++;
      if (f === p) j++;
      const o = this.slots[p];
      if (o === undefined || o.model !== model) continue;
      if (o.endpoints !== list) {
        list = o.endpoints;
        listServes = list.includes(e);
      }
      if (listServes) out[n++] = p;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  private latencyOf(at: Int32Array): (edge: string) => EdgeRows {
    return (edge) => {
      const rows = this.edges.get(edge);
      return rows ? { row: (p) => rows.get(at[p]!) } : NO_ROWS;
    };
  }

  /** One object per distinct model name and endpoint list, one shape for every offer. */
  private offerOf(p: ProviderRow, r: OfferRow): ProviderOffer {
    let model = this.strings.get(r.model);
    if (model === undefined) this.strings.set(r.model, (model = r.model));
    const key = r.endpoints.join(",");
    let endpoints = this.endpointSets.get(key);
    if (!endpoints) this.endpointSets.set(key, (endpoints = Object.freeze([...r.endpoints])));
    return {
      providerId: p.id,
      address: p.address,
      url: p.url,
      model,
      endpoints,
      inputPrice: r.inputPrice,
      outputPrice: r.outputPrice,
      contextLength: r.contextLength,
      lastHeartbeatMs: p.lastHeartbeatMs,
      suspended: p.suspended,
      stakeOk: p.stakeOk,
      waitingRequests: p.waitingRequests,
      maxWaitingRequests: p.maxWaitingRequests,
    };
  }
}

/** Where `pos` is in an ascending list, or -1. */
function indexIn(at: Int32Array, pos: number): number {
  let lo = 0;
  let hi = at.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = at[mid]!;
    if (v === pos) return mid;
    if (v < pos) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function sameMembers(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** For each position of the old group: its place among the new members, or -1 (gone, or its price moved). */
function keepMap(oldAt: Int32Array, members: Int32Array, repriced: ReadonlySet<number>): Int32Array {
  const keep = new Int32Array(oldAt.length).fill(-1);
  let j = 0;
  for (let i = 0; i < oldAt.length; i++) {
    const p = oldAt[i]!;
    while (j < members.length && members[j]! < p) j++;
    if (j < members.length && members[j] === p && !repriced.has(p)) keep[i] = j;
  }
  return keep;
}
