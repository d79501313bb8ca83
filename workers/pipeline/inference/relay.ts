/**
 * Relays a provider's SSE stream to the client, pulled by the client (so a slow reader slows the
 * provider: back-pressure). This file owns only the stream, the timers (keep-alive comments while
 * upstream is quiet, the idle deadline, the short wait for the receipt after [DONE]) and the
 * client leaving; what happens to each event is decided by core's UsageTap.
 */
import { createParser } from "eventsource-parser";
import type { TokenCounts } from "../../core/openai/chunks";
import { KEEPALIVE, encodeData } from "../../core/openai/sse";
import { UsageTap, closingEvents, type StreamEnd } from "../../core/openai/usage-tap";

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

export interface RelayOptions {
  first: Uint8Array;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  abortUpstream: (reason: string) => void;
  includeUsage: boolean;
  idleDeadlineMs: number;
  keepaliveMs: number;
  now: () => number;
  onFinish: (outcome: RelayOutcome) => void;
  /**
   * The client's request signal: it aborts when the client goes away. workerd does not always run
   * a JS stream's cancel() on disconnect (cloudflare/workerd#6832), so both paths end the relay.
   */
  clientSignal?: AbortSignal;
  /** The charge for these counts (USDC decimal string), added to the usage chunk the client sees. */
  costOf?: (tokens: TokenCounts) => string;
}

type Read = { kind: "data"; value: Uint8Array } | { kind: StreamEnd };
const IDLE: Read = { kind: "idle" };

/** Reads upstream with a time limit; a read the timer beat stays pending for the next call. */
function timedReads(reader: ReadableStreamDefaultReader<Uint8Array>) {
  let pending: Promise<Read> | null = null;
  return async (limitMs: number): Promise<Read | null> => {
    pending ??= reader.read().then(
      (r): Read => (r.done ? { kind: "closed" } : { kind: "data", value: r.value }),
      (): Read => ({ kind: "failed" }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), Math.max(0, limitMs));
    });
    const r = await Promise.race([pending, tick]);
    if (timer !== undefined) clearTimeout(timer);
    if (r) pending = null;
    return r;
  };
}

export function relayStream(o: RelayOptions): ReadableStream<Uint8Array> {
  const tap = new UsageTap({ includeUsage: o.includeUsage, costOf: o.costOf });
  const readWithin = timedReads(o.reader);
  const toClient: Uint8Array[] = [];
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent: (ev) => {
      const action = tap.consume(ev);
      if (action.kind !== "drop") toClient.push(encodeData(action.kind === "rewrite" ? action.data : ev.data));
    },
  });
  const feed = (bytes: Uint8Array) => parser.feed(decoder.decode(bytes, { stream: true }));
  const releaseUpstream = () => {
    o.reader.cancel().catch(() => undefined);
  };
  let lastDataAtMs = o.now();
  let finished = false,
    cancelled = false;

  function finish(end: Pick<RelayOutcome, "complete" | "cancelledByClient" | "errorCode">) {
    if (finished) return;
    finished = true;
    o.clientSignal?.removeEventListener("abort", clientGone);
    const t = tap.outcome();
    o.onFinish({
      ...end,
      reported: t.reported,
      deliveredTokens: t.deliveredTokens,
      malformedDropped: t.malformedDropped,
      endedAtMs: o.now(),
      receipt: t.receipt,
    });
  }

  /** The client went away: stop the provider at once and bill what was delivered. */
  function clientGone() {
    if (finished) return;
    o.abortUpstream("client_disconnected");
    releaseUpstream();
    finish({ complete: false, cancelledByClient: true, errorCode: "client_disconnected" });
  }

  /** After [DONE] only the receipt event is still expected: read on briefly until it came. */
  async function awaitReceipt() {
    const deadline = o.now() + RECEIPT_WAIT_MS;
    while (tap.outcome().receipt === null && o.now() < deadline) {
      const r = await readWithin(deadline - o.now());
      if (r?.kind !== "data") return;
      feed(r.value);
    }
  }

  function close(controller: ReadableStreamDefaultController<Uint8Array>, end: StreamEnd) {
    const closing = closingEvents(tap.outcome(), end, { includeUsage: o.includeUsage, costOf: o.costOf, idleDeadlineMs: o.idleDeadlineMs });
    for (const data of closing.events) toClient.push(encodeData(data));
    for (const bytes of toClient.splice(0)) controller.enqueue(bytes);
    controller.close();
    releaseUpstream();
    if (closing.errorCode) o.abortUpstream(closing.errorCode);
    finish({ complete: closing.complete, cancelledByClient: false, errorCode: closing.errorCode });
  }

  /** The client left while we waited; close our side unless its cancel() already did. */
  function left(controller: ReadableStreamDefaultController<Uint8Array>) {
    if (!cancelled) controller.close();
  }

  feed(o.first);
  if (o.clientSignal?.aborted) clientGone();
  else o.clientSignal?.addEventListener("abort", clientGone, { once: true });

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (finished) return left(controller);
        while (toClient.length === 0 && !tap.ended) {
          const idleLeftMs = o.idleDeadlineMs - (o.now() - lastDataAtMs);
          const r = idleLeftMs <= 0 ? IDLE : await readWithin(Math.min(o.keepaliveMs, idleLeftMs));
          if (finished) return left(controller);
          if (r === null) return controller.enqueue(KEEPALIVE);
          if (r.kind !== "data") return close(controller, r.kind);
          lastDataAtMs = o.now();
          feed(r.value);
        }
        for (const bytes of toClient.splice(0)) controller.enqueue(bytes);
        if (!tap.ended) return;
        if (tap.outcome().doneSeen) await awaitReceipt();
        if (finished) return left(controller);
        close(controller, "closed");
      },
      cancel() {
        cancelled = true;
        clientGone();
      },
    },
    { highWaterMark: 0 },
  );
}
