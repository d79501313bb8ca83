/**
 * One edge's latency rows held by the route store: typed arrays by store position (an offer's slot),
 * not a Map of objects under long string keys (28 bytes a row instead of ~260). A row is read as a
 * fresh object, only for the offers a walk reaches.
 */
import type { LatencyStats } from "./types";

export class EdgeLatency {
  private ttft = new Float64Array(0);
  private tpot = new Float64Array(0);
  private success = new Float64Array(0);
  /** -1: no row. */
  private samples = new Int32Array(0);

  get(pos: number): LatencyStats | undefined {
    const samples = this.samples[pos];
    if (samples === undefined || samples < 0) return undefined;
    return { ttftMs: this.ttft[pos]!, tpotMs: this.tpot[pos]!, successRate: this.success[pos]!, samples };
  }

  set(pos: number, row: LatencyStats): void {
    if (pos >= this.samples.length) this.grow(pos + 1);
    this.ttft[pos] = row.ttftMs;
    this.tpot[pos] = row.tpotMs;
    this.success[pos] = row.successRate;
    this.samples[pos] = Math.max(0, row.samples);
  }

  /** Room for `n` slots, exactly when it grows (a load sizes it once). */
  reserve(n: number): void {
    if (n > this.samples.length) this.grow(n, n);
  }

  clear(pos: number): void {
    if (pos < this.samples.length) this.samples[pos] = -1;
  }

  private grow(min: number, exact?: number): void {
    const n = exact ?? Math.max(min, Math.ceil(this.samples.length * 1.5), 64);
    const copy = <A extends Float64Array | Int32Array>(a: A, b: A) => (b.set(a), b);
    this.ttft = copy(this.ttft, new Float64Array(n));
    this.tpot = copy(this.tpot, new Float64Array(n));
    this.success = copy(this.success, new Float64Array(n));
    this.samples = copy(this.samples, new Int32Array(n).fill(-1));
  }
}
