/**
 * Per-isolate caches of plain data (never I/O objects: those must not outlive their request).
 * `SwrValue` serves a stale value while one background refresh runs, so the hot path
 * waits for Postgres only when it has never loaded (or the value is far too old).
 */
/** How long a request waits for another request's load of the same value before loading itself. */
const COALESCE_WAIT_MS = 3_000;
const COALESCE_POLL_MS = 5;

export class SwrValue<V> {
  private value: V | undefined;
  private loadedAtMs = 0;
  private refreshing: Promise<V> | undefined;
  private stale = false;
  /** Bumped by invalidate(): a refresh that began before it cannot make the value fresh. */
  private generation = 0;
  private refreshingGeneration = -1;
  private valueGeneration = 0;
  /** Completed loads, so a waiting request can tell a new value from the one it found too old. */
  private loads = 0;

  constructor(
    private readonly freshMs: number,
    private readonly maxStaleMs: number,
  ) {}

  /**
   * Returns the cached value when fresh; when stale, returns it and starts one refresh
   * through `background` (the caller's waitUntil); when missing or too old, waits for a load.
   */
  async get(nowMs: number, load: () => Promise<V>, background: (p: Promise<unknown>) => void): Promise<V> {
    const age = nowMs - this.loadedAtMs;
    if (this.value !== undefined && !this.stale && age < this.freshMs) return this.value;
    if (this.value !== undefined && age < this.maxStaleMs) {
      const current = this.refreshing && this.refreshingGeneration === this.generation;
      if (!current) background(this.refresh(load, nowMs).catch(() => undefined));
      return this.value;
    }
    // Never await another request's promise: workerd ties I/O to the request that started it.
    // But a cold start under load must not become one database session per request: while another
    // request's load is running, look for its result from here (timers are ours), then load alone.
    if (this.refreshing && this.refreshingGeneration === this.generation) {
      const loadsBefore = this.loads;
      for (let waited = 0; waited < COALESCE_WAIT_MS && this.isLoading() && this.loads === loadsBefore; waited += COALESCE_POLL_MS) {
        await new Promise((r) => setTimeout(r, COALESCE_POLL_MS));
      }
      if (this.loads !== loadsBefore && this.value !== undefined && !this.stale) return this.value;
    }
    return this.refresh(load, nowMs);
  }

  /** Marks the value stale: the next get() serves it once more and refreshes it in the background. */
  invalidate(): void {
    this.stale = true;
    this.generation++;
  }

  /**
   * Marks the value stale and loads it anew in the caller's own request, which waits for it: for a
   * change that must show at once in this isolate (an operator's action, the probe's verdicts).
   */
  reload(nowMs: number, load: () => Promise<V>): Promise<V> {
    this.invalidate();
    return this.refresh(load, nowMs);
  }

  /** Read through a method: the field changes while a waiting request sleeps. */
  private isLoading(): boolean {
    return this.refreshing !== undefined;
  }

  private refresh(load: () => Promise<V>, nowMs: number): Promise<V> {
    const generation = this.generation;
    const p = load()
      .then((v) => {
        if (generation >= this.valueGeneration) {
          this.value = v;
          this.valueGeneration = generation;
          this.loadedAtMs = nowMs;
          this.loads++;
          if (generation === this.generation) this.stale = false;
        }
        return v;
      })
      .finally(() => {
        if (this.refreshing === p) this.refreshing = undefined;
      });
    this.refreshing = p;
    this.refreshingGeneration = generation;
    return p;
  }
}

/** SwrValue per key, bounded: the key records' cache, so a warm key never waits for Postgres. */
export class SwrMap<V> {
  private readonly values = new Map<string, SwrValue<V>>();
  constructor(
    private readonly freshMs: number,
    private readonly maxStaleMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, nowMs: number, load: () => Promise<V>, background: (p: Promise<unknown>) => void): Promise<V> {
    let v = this.values.get(key);
    if (!v) {
      if (this.values.size >= this.maxEntries) {
        const oldest = this.values.keys().next().value;
        if (oldest !== undefined) this.values.delete(oldest);
      }
      v = new SwrValue<V>(this.freshMs, this.maxStaleMs);
      this.values.set(key, v);
    }
    return v.get(nowMs, load, background);
  }

  clear(): void {
    this.values.clear();
  }
}
