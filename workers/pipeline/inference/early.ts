/**
 * Early headers for a stream whose first byte is slow: after EARLY_HEADERS_MS without one the
 * client gets `200 text/event-stream` and `: keep-alive` comments every KEEPALIVE_MS while failover
 * goes on behind them. Comments are not part of the answer, so no failover is lost; what is spent is
 * the HTTP status: a request that then fails ends with the stream's error event (the SDK raises it
 * as an APIError, as it does for a stream that breaks). Non-streamed requests never commit early:
 * a JSON client needs the status.
 */
import { KEEPALIVE, encodeJson } from "../../core/openai/sse";

/** Resolves with the promise's value, or `null` once `ms` passed first (the timer is cleared either way). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, ms));
  });
  return Promise.race([p, tick]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** A body of one SSE data event (an error), then the end of the stream. */
export function oneEvent(value: unknown): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(encodeJson(value));
      controller.close();
    },
  });
}

export const emptyBody = (): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start: (controller) => controller.close(),
  });

/**
 * A client stream that sends a keep-alive comment at once and every `keepaliveMs` until `body`
 * resolves, then hands out that body's bytes. `onCancel`: the client left (its reader cancelled).
 */
export function keptAliveUntil(
  body: Promise<ReadableStream<Uint8Array>>,
  keepaliveMs: number,
  onCancel: () => void,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(KEEPALIVE);
      },
      async pull(controller) {
        if (!reader) {
          const ready = await within(body, keepaliveMs);
          if (cancelled) return;
          if (ready === null) return controller.enqueue(KEEPALIVE);
          reader = ready.getReader();
        }
        const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (cancelled) return;
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel(reason) {
        cancelled = true;
        onCancel();
        if (reader) reader.cancel(reason).catch(() => undefined);
        else body.then((b) => b.cancel(reason)).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
