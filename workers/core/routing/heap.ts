/** An order over positions (a method, not a closure: nothing is allocated per comparison or per walk). */
export interface PositionOrder {
  before(a: number, b: number): boolean;
}

/**
 * A binary min-heap of positions (into an offer group), each pushed with a numeric key: a smaller
 * key comes first, equal keys by the caller's order. The key must agree with the order (a smaller
 * key ⇒ before), so the order is only asked about ties.
 */
export class PositionHeap {
  private readonly items: number[] = [];
  private readonly keys: number[] = [];

  constructor(private readonly order: PositionOrder) {}

  get size(): number {
    return this.items.length;
  }

  /** The least position, or -1 when empty. */
  peek(): number {
    return this.items.length > 0 ? this.items[0]! : -1;
  }

  /** The least key (+∞ when empty). */
  peekKey(): number {
    return this.keys.length > 0 ? this.keys[0]! : Number.POSITIVE_INFINITY;
  }

  private less(p: number, k: number, q: number, l: number): boolean {
    return k < l || (k === l && this.order.before(p, q));
  }

  push(p: number, key: number): void {
    const h = this.items;
    const ks = this.keys;
    let i = h.length;
    h.push(p);
    ks.push(key);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.less(p, key, h[up]!, ks[up]!)) break;
      h[i] = h[up]!;
      ks[i] = ks[up]!;
      i = up;
    }
    h[i] = p;
    ks[i] = key;
  }

  /** Removes and returns the least position, or -1 when empty. */
  pop(): number {
    const h = this.items;
    const ks = this.keys;
    if (h.length === 0) return -1;
    const top = h[0]!;
    const last = h.pop()!;
    const lastKey = ks.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.less(h[r]!, ks[r]!, h[l]!, ks[l]!) ? r : l;
        if (!this.less(h[c]!, ks[c]!, last, lastKey)) break;
        h[i] = h[c]!;
        ks[i] = ks[c]!;
        i = c;
      }
      h[i] = last;
      ks[i] = lastKey;
    }
    return top;
  }
}
