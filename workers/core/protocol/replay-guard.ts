/**
 * Remembers request ids until their signatures' time window closes, so that a captured request
 * cannot be replayed inside it. Bounded: at `maxEntries`, expired ids are dropped first, then the
 * id whose window closes soonest (for gateway requests, the one with the oldest timestamp).
 * Evicting a live id reopens its window, so size `maxEntries` above the peak number of requests per
 * two windows (default 100 000 ≈ 1 700 req/s with the 30 s window). Per isolate / process: the
 * clock is an argument. Each operation is O(log n): a map by id plus a min-heap by expiry.
 */
interface Entry {
  id: string;
  expiresAtMs: number;
  seq: number;
}

export class ReplayGuard {
  private readonly live = new Map<string, Entry>();
  private readonly heap: Entry[] = [];
  private seq = 0;

  constructor(readonly maxEntries = 100_000) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.live.size;
  }

  /** true if first seen (and remembers it until expiresAtMs) */
  checkAndRemember(requestId: string, nowMs: number, expiresAtMs: number): boolean {
    this.dropExpired(nowMs);
    if (this.live.has(requestId)) return false;
    if (expiresAtMs <= nowMs) return true; // already outside its window: nothing to remember
    while (this.live.size >= this.maxEntries) this.evict(this.pop()!);
    const entry = { id: requestId, expiresAtMs, seq: this.seq++ };
    this.live.set(requestId, entry);
    this.push(entry);
    return true;
  }

  private dropExpired(nowMs: number): void {
    while (this.heap.length > 0 && this.heap[0]!.expiresAtMs <= nowMs) this.evict(this.pop()!);
  }

  private evict(entry: Entry): void {
    if (this.live.get(entry.id) === entry) this.live.delete(entry.id);
  }

  private before(a: Entry, b: Entry): boolean {
    return a.expiresAtMs < b.expiresAtMs || (a.expiresAtMs === b.expiresAtMs && a.seq < b.seq);
  }

  private push(entry: Entry): void {
    const h = this.heap;
    let i = h.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}
