/**
 * The isolate's way out (per isolate, plain data). An orderly stop drains it: requests that
 * arrive from then on are refused (a 503 the client may retry elsewhere), the requests and the
 * background work already running finish, and the usage buffer writes every record at once. The
 * drain answers when nothing runs and nothing is unwritten, or at its deadline with what is left.
 *
 * A request is open from its first byte in until its response is returned — for a stream, until
 * its usage record was handed to the buffer (the relay ends after the response). Background work
 * (waitUntil) is counted from registration to settlement. The drain only polls these counters
 * from its own request: no promise crosses request contexts (workerd refuses that).
 */
import type { DrainReport } from "../ports";

/** What a drain needs from the usage buffer, bound to the drain's own database session. */
export interface DrainableUsage {
  startDraining(): void;
  /** Writes what waits, in the drain's own context. */
  flushNow(): Promise<void>;
  /** Nothing waits and no write is under way. */
  idle(): boolean;
  unwritten(): number;
}

interface Open {
  responded: boolean;
  streaming: boolean;
  recorded: boolean;
}

const POLL_MS = 20;
const RETRY_MS = 200;

export class IsolateLifecycle {
  private open = new Map<object, Open>();
  private background = 0;
  private drainingSince: number | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** Requests and background tasks running now. */
  get inFlight(): number {
    return this.open.size + this.background;
  }

  /** Runs one request (keyed by its execution context) and keeps it open until it has ended. */
  async serve(ctx: object, handle: () => Promise<Response>): Promise<Response> {
    const o: Open = { responded: false, streaming: false, recorded: false };
    this.open.set(ctx, o);
    try {
      const res = await handle();
      o.streaming = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
      return res;
    } finally {
      o.responded = true;
      this.settle(ctx, o);
    }
  }

  /** The request's usage record reached the buffer: a stream has ended. */
  recorded(ctx: object): void {
    const o = this.open.get(ctx);
    if (!o) return;
    o.recorded = true;
    this.settle(ctx, o);
  }

  /** Counts a background task until it settles. */
  track(p: Promise<unknown>): void {
    this.background++;
    p.then(
      () => this.background--,
      () => this.background--,
    );
  }

  /**
   * Drains this isolate: refuse new work, wait for what runs, write what is unwritten. Bounded by
   * `deadlineMs`; a second drain waits the same way (the first one's refusal stays on).
   */
  async drain(usage: DrainableUsage, deadlineMs: number, self?: object): Promise<DrainReport> {
    const start = this.now();
    this.drainingSince ??= start;
    usage.startDraining();
    // The drain's own request is not work to wait for.
    if (self) this.open.delete(self);
    await usage.flushNow().catch(() => undefined);
    let lastFlush = this.now();
    while (this.now() - start < deadlineMs) {
      if (this.inFlight === 0 && usage.idle()) break;
      await this.sleep(POLL_MS);
      // Records pushed while draining are written at once by their own request; a failed write is
      // retried from here (no window while draining), at a pace a struggling database can take.
      if (this.now() - lastFlush < RETRY_MS) continue;
      lastFlush = this.now();
      await usage.flushNow().catch(() => undefined);
    }
    const inFlight = this.inFlight;
    const unwritten = usage.unwritten();
    return { complete: inFlight === 0 && usage.idle(), inFlight, unwritten, tookMs: this.now() - start };
  }

  private settle(ctx: object, o: Open): void {
    if (o.responded && (!o.streaming || o.recorded)) this.open.delete(ctx);
  }
}
