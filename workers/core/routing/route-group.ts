/**
 * One (model, endpoint) group of the route index, built from its offers: the two price orders (ties
 * by providerId, so the order is a function of the offers alone), each offer's rank in them, the
 * prices as numbers and admission's worst case. Built whole at a load; at an incremental refresh
 * from the group it replaces: the offers whose prices did not change keep their relative order and
 * only the changed and new ones are sorted and merged in (O(n + k log k), not O(n log n)).
 */
import type { EdgeRows, OfferGroup } from "./route-index";
import type { ProviderOffer } from "./types";

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The group being replaced, and where each of its offers stands in the new one (-1: gone or repriced). */
export interface GroupBase {
  readonly group: OfferGroup;
  readonly keep: Int32Array;
}

export function groupOf(
  model: string,
  offers: readonly ProviderOffer[],
  at: Int32Array,
  latency: (edge: string) => EdgeRows,
  base?: GroupBase,
): OfferGroup {
  const n = offers.length;
  // One buffer per kind (a small group's typed arrays cost more in headers than in elements).
  const prices = new Float64Array(2 * n);
  const inputPrice = prices.subarray(0, n);
  const outputPrice = prices.subarray(n);
  // An offer kept from an exact base has its prices as numbers already (bigint arithmetic is the slow part).
  const fromBase = new Int32Array(n).fill(-1);
  if (base?.group.pricesExact) for (let j = 0; j < base.keep.length; j++) if (base.keep[j]! >= 0) fromBase[base.keep[j]!] = j;
  let pricesExact = true;
  let maxContextLength = 0;
  for (let i = 0; i < n; i++) {
    const o = offers[i]!;
    const j = fromBase[i]!;
    if (j >= 0) {
      inputPrice[i] = base!.group.inputPrice[j]!;
      outputPrice[i] = base!.group.outputPrice[j]!;
    } else {
      if (o.inputPrice < 0n || o.outputPrice < 0n || o.inputPrice > SAFE || o.outputPrice > SAFE) pricesExact = false;
      inputPrice[i] = Number(o.inputPrice);
      outputPrice[i] = Number(o.outputPrice);
    }
    if (o.contextLength > maxContextLength) maxContextLength = o.contextLength;
  }
  let maxInputPrice = 0n;
  let maxOutputPrice = 0n;
  if (pricesExact) {
    // Exact numbers: the maxima as numbers, one conversion back.
    let mi = 0;
    let mo = 0;
    for (let i = 0; i < n; i++) {
      if (inputPrice[i]! > mi) mi = inputPrice[i]!;
      if (outputPrice[i]! > mo) mo = outputPrice[i]!;
    }
    maxInputPrice = BigInt(mi);
    maxOutputPrice = BigInt(mo);
  } else {
    for (const o of offers) {
      if (o.inputPrice > maxInputPrice) maxInputPrice = o.inputPrice;
      if (o.outputPrice > maxOutputPrice) maxOutputPrice = o.outputPrice;
    }
  }
  const orders = new Int32Array(4 * n);
  const byInput = orders.subarray(0, n);
  const byOutput = orders.subarray(n, 2 * n);
  const inputRank = orders.subarray(2 * n, 3 * n);
  const outputRank = orders.subarray(3 * n);
  ordered(byInput, offers, inputPrice, base && { order: base.group.byInput, keep: base.keep });
  ordered(byOutput, offers, outputPrice, base && { order: base.group.byOutput, keep: base.keep });
  for (let i = 0; i < n; i++) {
    inputRank[byInput[i]!] = i;
    outputRank[byOutput[i]!] = i;
  }
  return {
    model,
    offers,
    at,
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
    latency,
  };
}

/**
 * Writes into `out` the positions into `offers` by price ascending, then providerId: sorted, or the
 * previous order's kept offers with the others inserted by binary search (k log n comparisons, the rest copied).
 */
function ordered(
  out: Int32Array,
  offers: readonly ProviderOffer[],
  price: Float64Array,
  prev?: { order: Int32Array; keep: Int32Array },
): void {
  const n = offers.length;
  const cmp = (a: number, b: number) => {
    const d = price[a]! - price[b]!;
    if (d !== 0) return d;
    const x = offers[a]!.providerId;
    const y = offers[b]!.providerId;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  if (!prev) {
    for (let i = 0; i < n; i++) out[i] = i;
    out.sort(cmp);
    return;
  }
  const kept = new Int32Array(n);
  const taken = new Uint8Array(n);
  let k = 0;
  for (const p of prev.order) {
    const q = prev.keep[p]!;
    if (q >= 0) {
      kept[k++] = q;
      taken[q] = 1;
    }
  }
  const fresh: number[] = [];
  for (let i = 0; i < n; i++) if (!taken[i]) fresh.push(i);
  fresh.sort(cmp);
  let w = 0;
  let from = 0;
  for (const f of fresh) {
    let lo = from;
    let hi = k;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(kept[mid]!, f) <= 0) lo = mid + 1;
      else hi = mid;
    }
    out.set(kept.subarray(from, lo), w);
    w += lo - from;
    from = lo;
    out[w++] = f;
  }
  out.set(kept.subarray(from, k), w);
}
