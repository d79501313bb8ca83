/**
 * Per-isolate caches of plain data (never I/O objects: those must not outlive their request).
 * `SwrValue` serves a stale value while one background refresh runs, so the hot path
 * waits for Postgres only when it has never loaded (or the value is far too old).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();
  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  get(key: string, nowMs: number): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, nowMs: number): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAtMs: nowMs + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

export class SwrValue<V> {
  private value: V | undefined;
  private loadedAtMs = 0;
  private refreshing: Promise<V> | undefined;

  constructor(private readonly freshMs: number, private readonly maxStaleMs: number) {}

  /**
   * Returns the cached value when fresh; when stale, returns it and starts one refresh
   * through `background` (the caller's waitUntil); when missing or too old, waits for a load.
   */
  async get(nowMs: number, load: () => Promise<V>, background: (p: Promise<unknown>) => void): Promise<V> {
    const age = nowMs - this.loadedAtMs;
    if (this.value !== undefined && age < this.freshMs) return this.value;
    if (this.value !== undefined && age < this.maxStaleMs) {
      if (!this.refreshing) background(this.refresh(load, nowMs).catch(() => undefined));
      return this.value;
    }
    // Never await another request's promise: workerd ties I/O to the request that started it.
    return this.refresh(load, nowMs);
  }

  /** Drops the value so the next get() loads afresh (after an admin change, say). */
  invalidate(): void {
    this.loadedAtMs = 0;
  }

  private refresh(load: () => Promise<V>, nowMs: number): Promise<V> {
    const p = load()
      .then((v) => {
        this.value = v;
        this.loadedAtMs = nowMs;
        return v;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    this.refreshing = p;
    return p;
  }
}
