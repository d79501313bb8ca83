/**
 * One key's sliding 60-second window of admitted requests, with running sums: admitting, settling
 * and reading the remaining requests and tokens cost O(1) (amortised: each entry is pushed once
 * and aged out once), however many entries the window holds. Exact to the millisecond: an entry
 * admitted at `atMs` counts until `atMs + WINDOW_MS` (exclusive), as the list it replaces did.
 *
 * Entries are kept in admission order (a queue: an array and the index of its head, compacted
 * when the head passes half of it), so the oldest entry is the next to age out.
 */

export const WINDOW_MS = 60_000;

/**
 * Counts the window entries an operation touches (pushed, aged out, copied, corrected, scanned):
 * injected by a test to prove that admission's cost does not grow with the window.
 */
export interface StepCounter {
  steps: number;
}

interface Entry {
  atMs: number;
  tokens: number;
  requestId: string;
}

/** Compaction waits for at least this many aged-out slots, so short windows never copy. */
const COMPACT_AFTER = 1_024;

export class RateWindow {
  private entries: (Entry | undefined)[] = [];
  private head = 0;
  private tokenSum = 0;
  /** The window's entry of each request, for its correction at settle. */
  private readonly byRequest = new Map<string, Entry>();

  constructor(private readonly counter?: StepCounter) {}

  /** Requests in the window. */
  get requests(): number {
    return this.entries.length - this.head;
  }
  /** Tokens in the window (reserved at admission, corrected at settle). */
  get tokens(): number {
    return this.tokenSum;
  }
  /** When the oldest entry was admitted; undefined for an empty window. */
  get oldestAtMs(): number | undefined {
    return this.entries[this.head]?.atMs;
  }

  /** Ages out the entries admitted at or before `nowMs − WINDOW_MS`. */
  advance(nowMs: number): void {
    const since = nowMs - WINDOW_MS;
    let e = this.entries[this.head];
    while (e !== undefined && e.atMs <= since) {
      this.step();
      this.tokenSum -= e.tokens;
      if (this.byRequest.get(e.requestId) === e) this.byRequest.delete(e.requestId);
      this.entries[this.head] = undefined;
      this.head++;
      e = this.entries[this.head];
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.entries.length) {
      this.step(this.entries.length - this.head); // at most one copy per aged-out entry
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  push(requestId: string, atMs: number, tokens: number): void {
    this.step();
    const e = { atMs, tokens, requestId };
    this.entries.push(e);
    this.tokenSum += tokens;
    this.byRequest.set(requestId, e);
  }

  /** The request reported back: its tokens corrected to the real count, if it is still in the window. */
  correct(requestId: string, tokens: number): void {
    const e = this.byRequest.get(requestId);
    if (!e) return;
    this.step();
    this.tokenSum += tokens - e.tokens;
    e.tokens = tokens;
  }

  /**
   * How long until enough of the window's tokens age out for `need` more to fit under `tpm`: the
   * entries are walked from the oldest only as far as that takes (a denial's path, not admission's).
   */
  tokenRetryAfter(tpm: number, need: number, nowMs: number): number {
    if (need > tpm) return WINDOW_MS; // never fits; say a window, the error message says why
    let total = this.tokenSum;
    for (let i = this.head; i < this.entries.length; i++) {
      this.step();
      const e = this.entries[i]!;
      total -= e.tokens;
      if (total + need <= tpm) return Math.max(1, e.atMs + WINDOW_MS - nowMs);
    }
    return WINDOW_MS;
  }

  private step(n = 1): void {
    if (this.counter) this.counter.steps += n;
  }
}
