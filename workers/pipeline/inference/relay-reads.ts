/**
 * The relay's upstream reads and its one timer. A read costs no timer of its own: `next()` waits
 * for the read or for `wake()`, which the relay's single watchdog calls when something is due (a
 * keep-alive, the idle or the total deadline). The watchdog is armed for the earliest such moment
 * and left alone while chunks keep coming (they only move a timestamp), so a busy stream sets a
 * timer once per keep-alive interval instead of one per chunk, and races no promises.
 */
import type { StreamEnd } from "../../core/openai/usage-tap";

export type Read = { kind: "data"; value: Uint8Array } | { kind: StreamEnd };
const CLOSED: Read = { kind: "closed" };
const FAILED: Read = { kind: "failed" };

/** One upstream reader; a read that a wake beat stays pending and is the next call's answer. */
export class UpstreamReads {
  private reading = false;
  private ready: Read | null = null;
  private waiter: ((r: Read | null) => void) | null = null;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next read, or null when woken first. */
  next(): Promise<Read | null> {
    const ready = this.ready;
    if (ready) {
      this.ready = null;
      return Promise.resolve(ready);
    }
    if (!this.reading) {
      this.reading = true;
      this.reader.read().then(
        (r) => this.settle(r.done ? CLOSED : { kind: "data", value: r.value }),
        () => this.settle(FAILED),
      );
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Ends the current wait with null (the caller re-checks its clocks); the read goes on. */
  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }

  private settle(r: Read): void {
    this.reading = false;
    const w = this.waiter;
    this.waiter = null;
    if (w) w(r);
    else this.ready = r;
  }
}

/** One timer, fired no later than the earliest moment asked for, then idle until asked again. */
export class Watchdog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dueAtMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly now: () => number,
    private readonly fire: () => void,
  ) {}

  /** Makes sure the timer fires by `atMs` (an earlier arming stands). */
  armBy(atMs: number): void {
    if (this.timer !== undefined && this.dueAtMs <= atMs) return;
    this.stop();
    this.dueAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.dueAtMs = Number.POSITIVE_INFINITY;
        this.fire();
      },
      Math.max(0, atMs - this.now()),
    );
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAtMs = Number.POSITIVE_INFINITY;
  }
}
