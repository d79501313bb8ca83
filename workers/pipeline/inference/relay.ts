/**
 * Relays a provider's SSE stream to the client, pulled by the client (so a slow reader slows the
 * provider: back-pressure). This file owns only the stream, the timers (keep-alive comments while
 * upstream is quiet, the idle deadline, the request's total deadline, the short wait for the
 * receipt after [DONE]) and the client leaving; what happens to each event is decided by core's
 * UsageTap. A stream that breaks or stalls after bytes reached the client may be continued: the
 * relay asks `continueAfter` for another part and splices it into the same client stream.
 */
import type { TokenCounts } from "../../core/openai/chunks";
import { emptyTranscript, type Transcript } from "../../core/openai/continuation";
import { KEEPALIVE, encodeData } from "../../core/openai/sse";
import { UsageTap, closingEvents, type StreamEnd } from "../../core/openai/usage-tap";
import { type Read, UpstreamReads, Watchdog } from "./relay-reads";
import { SseFramer } from "./sse-framer";

/** How long to wait after [DONE] for the provider's receipt event before closing. */
const RECEIPT_WAIT_MS = 1_000;

export interface RelayOutcome {
  reported: TokenCounts | null;
  deliveredTokens: number;
  /** The answer finished (finish_reason seen and the stream closed or said [DONE]). */
  complete: boolean;
  cancelledByClient: boolean;
  errorCode: string | null;
  malformedDropped: number;
  endedAtMs: number;
  /** The provider's signed receipt (its final SSE event), removed from the client's stream. */
  receipt: string | null;
}

/** One provider's stream: the first one, or a continuation of it. */
export interface RelayPart {
  first: Uint8Array;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  abortUpstream: (reason: string) => void;
  /** The charge for this part's counts (USDC decimal string; a continuation's includes the earlier parts'). */
  costOf?: (tokens: TokenCounts) => string;
  /** The earlier parts' counts: the one usage chunk the client gets reports the sum. */
  carried?: TokenCounts;
}

/** A part that broke: its outcome (as it would have been finished) and the answer so far. */
export interface CutPart extends RelayOutcome {
  transcript: Transcript;
}

export interface RelayOptions extends RelayPart {
  includeUsage: boolean;
  idleDeadlineMs: number;
  keepaliveMs: number;
  now: () => number;
  /** Called once, with the last part's outcome (a continued part is the continuation's business). */
  onFinish: (outcome: RelayOutcome) => void;
  /**
   * The client's request signal: it aborts when the client goes away. workerd does not always run
   * a JS stream's cancel() on disconnect (cloudflare/workerd#6832), so both paths end the relay.
   */
  clientSignal?: AbortSignal;
  /** The request's total deadline (epoch ms): a stream still open then ends with `deadline_exceeded`. */
  deadlineAtMs?: number;
  totalDeadlineMs?: number;
  /** Another part for a stream that broke or stalled, or null (the error event goes out as before). */
  continueAfter?: (cut: CutPart) => Promise<RelayPart | null>;
}

const IDLE: Read = { kind: "idle" };
const DEADLINE: Read = { kind: "deadline" };
/** What is due before the next read: a keep-alive, or the end at a deadline. */
const KEEPALIVE_DUE = "keepalive";

interface Live {
  part: RelayPart;
  tap: UsageTap;
  reads: UpstreamReads;
  framer: SseFramer;
}

export function relayStream(o: RelayOptions): ReadableStream<Uint8Array> {
  const toClient: Uint8Array[] = [];
  const transcript = emptyTranscript();
  const start = (part: RelayPart, continued: boolean): Live => {
    const tap = new UsageTap(
      { includeUsage: o.includeUsage, costOf: part.costOf, carried: part.carried },
      continued ? { transcript, into: { ...transcript } } : { transcript },
    );
    // The common event passes on as the bytes it came as; a rewritten or unusual one is encoded anew.
    const framer = new SseFramer((ev) => {
      const action = tap.consume(ev);
      if (action.kind === "forward") toClient.push(ev.raw ?? encodeData(ev.data));
      else if (action.kind === "rewrite") toClient.push(encodeData(action.data));
    });
    return { part, tap, reads: new UpstreamReads(part.reader), framer };
  };
  let live = start(o, false);
  const feed = (bytes: Uint8Array) => live.framer.feed(bytes);
  const watchdog = new Watchdog(o.now, () => live.reads.wake());
  const releaseUpstream = () => {
    live.part.reader.cancel().catch(() => undefined);
  };
  const closingOptions = () => ({
    includeUsage: o.includeUsage,
    costOf: live.part.costOf,
    carried: live.part.carried,
    idleDeadlineMs: o.idleDeadlineMs,
    totalDeadlineMs: o.totalDeadlineMs,
  });
  let lastDataAtMs = o.now();
  /** The last data or keep-alive: the next keep-alive is due keepaliveMs after it. */
  let quietSinceMs = lastDataAtMs;
  let finished = false,
    cancelled = false;
  /** The cut part's error code while its continuation is being sought. */
  let cutPending: string | null = null;

  const outcomeOf = (end: Pick<RelayOutcome, "complete" | "cancelledByClient" | "errorCode">): RelayOutcome => {
    const t = live.tap.outcome();
    const { reported, deliveredTokens, malformedDropped, receipt } = t;
    return { ...end, reported, deliveredTokens, malformedDropped, endedAtMs: o.now(), receipt };
  };

  function finish(end: Pick<RelayOutcome, "complete" | "cancelledByClient" | "errorCode">) {
    if (finished) return;
    finished = true;
    watchdog.stop();
    live.reads.wake(); // a pull waiting on upstream sees the end at once
    o.clientSignal?.removeEventListener("abort", clientGone);
    o.onFinish(outcomeOf(end));
  }

  /** The client went away: stop the provider at once and bill what was delivered. */
  function clientGone() {
    if (finished) return;
    live.part.abortUpstream("client_disconnected");
    releaseUpstream();
    finish({ complete: false, cancelledByClient: true, errorCode: cutPending ?? "client_disconnected" });
  }

  /** After [DONE] only the receipt event is still expected: read on briefly until it came. */
  async function awaitReceipt() {
    const deadline = o.now() + RECEIPT_WAIT_MS;
    while (live.tap.outcome().receipt === null && o.now() < deadline && !finished) {
      watchdog.armBy(deadline);
      const r = await live.reads.next();
      if (r === null) continue;
      if (r.kind !== "data") return;
      feed(r.value);
    }
  }

  /** The part broke (not at its deadline): true when a continuation took its place. */
  async function continued(end: StreamEnd, controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    const closing = closingEvents(live.tap.outcome(), end, closingOptions());
    if (!o.continueAfter || closing.complete || !closing.errorCode || closing.errorCode === "deadline_exceeded") return false;
    releaseUpstream();
    live.part.abortUpstream(closing.errorCode);
    cutPending = closing.errorCode;
    const cut: CutPart = {
      ...outcomeOf({ complete: false, cancelledByClient: false, errorCode: closing.errorCode }),
      transcript: { ...transcript },
    };
    // The continuation's first byte may take up to its TTFT deadline: the client hears keep-alives meanwhile.
    const beat = setInterval(() => {
      if (!finished) controller.enqueue(KEEPALIVE);
    }, o.keepaliveMs);
    const next = await o
      .continueAfter(cut)
      .catch(() => null)
      .finally(() => clearInterval(beat));
    cutPending = null;
    if (next && finished) {
      next.abortUpstream("client_disconnected"); // the client left while it was sought
      next.reader.cancel().catch(() => undefined);
    }
    if (!next || finished) return false;
    live = start(next, true);
    lastDataAtMs = quietSinceMs = o.now();
    feed(next.first);
    return true;
  }

  async function close(controller: ReadableStreamDefaultController<Uint8Array>, end: StreamEnd): Promise<"closed" | "continued"> {
    if (end !== "deadline" && (await continued(end, controller))) return "continued";
    if (finished) {
      left(controller);
      return "closed";
    }
    const closing = closingEvents(live.tap.outcome(), end, closingOptions());
    for (const data of closing.events) toClient.push(encodeData(data));
    for (const bytes of toClient.splice(0)) controller.enqueue(bytes);
    controller.close();
    releaseUpstream();
    if (closing.errorCode) live.part.abortUpstream(closing.errorCode);
    finish({ complete: closing.complete, cancelledByClient: false, errorCode: closing.errorCode });
    return "closed";
  }

  /** The client left while we waited; close our side unless its cancel() already did. */
  function left(controller: ReadableStreamDefaultController<Uint8Array>) {
    if (!cancelled) controller.close();
  }

  /** What is due now (a deadline's end, a keep-alive), or null after arming the watchdog for the next of them. */
  function due(): Read | typeof KEEPALIVE_DUE | null {
    const nowMs = o.now();
    const idleLeftMs = o.idleDeadlineMs - (nowMs - lastDataAtMs);
    const totalLeftMs = o.deadlineAtMs === undefined ? Number.POSITIVE_INFINITY : o.deadlineAtMs - nowMs;
    const keepaliveLeftMs = o.keepaliveMs - (nowMs - quietSinceMs);
    if (totalLeftMs <= 0) return DEADLINE;
    if (idleLeftMs <= 0) return IDLE;
    if (keepaliveLeftMs <= 0) return KEEPALIVE_DUE;
    watchdog.armBy(nowMs + Math.min(keepaliveLeftMs, idleLeftMs, totalLeftMs));
    return null;
  }

  feed(o.first);
  if (o.clientSignal?.aborted) clientGone();
  else o.clientSignal?.addEventListener("abort", clientGone, { once: true });

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (finished) return left(controller);
          let ended: StreamEnd | null = null;
          while (toClient.length === 0 && !live.tap.ended && ended === null) {
            const d = due();
            if (d === KEEPALIVE_DUE) {
              quietSinceMs = o.now();
              return controller.enqueue(KEEPALIVE);
            }
            const r = d ?? (await live.reads.next());
            if (finished) return left(controller);
            if (r === null) continue; // the watchdog: see what is due
            if (r.kind !== "data") ended = r.kind;
            else {
              lastDataAtMs = quietSinceMs = o.now();
              feed(r.value);
            }
          }
          for (const bytes of toClient.splice(0)) controller.enqueue(bytes);
          if (ended === null && !live.tap.ended) return;
          if (ended === null && live.tap.outcome().doneSeen) await awaitReceipt();
          if (finished) return left(controller);
          if ((await close(controller, ended ?? "closed")) === "closed") return;
          // continued: the next round hands out the continuation's first bytes
        }
      },
      cancel() {
        cancelled = true;
        clientGone();
      },
    },
    { highWaterMark: 0 },
  );
}
