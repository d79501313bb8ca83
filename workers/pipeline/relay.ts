/**
 * Relays a provider's SSE stream to the client event by event, pulled by the client (so a
 * slow reader slows the provider: back-pressure), with keep-alive comments while upstream is
 * quiet, an idle deadline, malformed events dropped, usage captured (and forwarded only when
 * the client asked), and a failure after the first byte written as a final `data: {"error":…}`.
 */
import { createParser } from "eventsource-parser";
import { DONE, KEEPALIVE, encodeData, encodeJson } from "../core/openai/sse";
import { RECEIPT_EVENT } from "../core/protocol/receipt";

/** How long to wait after [DONE] for the provider's receipt event before closing. */
const RECEIPT_WAIT_MS = 1_000;

export interface RelayOutcome {
  reported: { promptTokens: number; completionTokens: number } | null;
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
  costOf?: (tokens: { promptTokens: number; completionTokens: number }) => string;
}

type Read = { kind: "data"; value: Uint8Array } | { kind: "end" } | { kind: "failed"; message: string };
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function relayStream(o: RelayOptions): ReadableStream<Uint8Array> {
  const queue: Uint8Array[] = [];
  const decoder = new TextDecoder();
  let reported: RelayOutcome["reported"] = null;
  let usageForwarded = false, finishSeen = false, doneSeen = false, upstreamError: unknown = null;
  let deliveredTokens = 0, malformedDropped = 0, finished = false;
  let pending: Promise<Read> | null = null;
  let receipt: string | null = null;
  let lastDataAtMs = o.now();

  const parser = createParser({
    onEvent: (ev) => {
      if (ev.event === RECEIPT_EVENT) receipt = ev.data;
      else onData(ev.data);
    },
  });

  function onData(data: string) {
    if (doneSeen || upstreamError) return;
    if (data === "[DONE]") { doneSeen = true; return; }
    let json: unknown;
    try { json = JSON.parse(data); } catch { malformedDropped++; return; }
    if (!isObject(json)) { malformedDropped++; return; }
    if (json.error !== undefined) { upstreamError = json.error; return; }
    const usage = json.usage;
    if (isObject(usage) && typeof usage.prompt_tokens === "number" && typeof usage.completion_tokens === "number") {
      reported = { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
    }
    const choices = Array.isArray(json.choices) ? json.choices : [];
    if (choices.length === 0 && isObject(usage)) {
      if (o.includeUsage) {
        queue.push(reported && o.costOf ? encodeJson({ ...json, usage: { ...usage, cost: o.costOf(reported) } }) : encodeData(data));
        usageForwarded = true;
      }
      return;
    }
    for (const c of choices) {
      if (!isObject(c)) continue;
      const content = isObject(c.delta) ? c.delta.content : c.text;
      if (typeof content === "string" && content.length > 0) deliveredTokens++;
      if (c.finish_reason) finishSeen = true;
    }
    // We always ask upstream for usage; a client that did not ask sees chunks without it.
    if (!o.includeUsage && "usage" in json) {
      delete json.usage;
      queue.push(encodeJson(json));
    } else queue.push(encodeData(data));
  }

  function read(): Promise<Read> {
    pending ??= o.reader.read().then(
      (r) => (r.done ? { kind: "end" as const } : { kind: "data" as const, value: r.value }),
      (err: unknown) => ({ kind: "failed" as const, message: err instanceof Error ? err.message : String(err) }),
    );
    return pending;
  }

  /** Waits for upstream, up to the keep-alive interval; null means "send a keep-alive". */
  async function next(): Promise<Read | null> {
    const idleLeft = o.idleDeadlineMs - (o.now() - lastDataAtMs);
    if (idleLeft <= 0) return { kind: "failed", message: "idle" };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = Math.min(o.keepaliveMs, idleLeft);
    const tick = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), wait); });
    const r = await Promise.race([read(), tick]);
    if (timer !== undefined) clearTimeout(timer);
    if (r) pending = null;
    return r;
  }

  function finish(outcome: Omit<RelayOutcome, "reported" | "deliveredTokens" | "malformedDropped" | "endedAtMs" | "receipt">) {
    if (finished) return;
    finished = true;
    o.onFinish({ ...outcome, reported, deliveredTokens, malformedDropped, endedAtMs: o.now(), receipt });
  }

  /** After [DONE] only the receipt event is still expected: read on briefly until it came. */
  async function awaitReceipt() {
    const deadline = o.now() + RECEIPT_WAIT_MS;
    while (receipt === null && !upstreamError) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), Math.max(0, deadline - o.now())); });
      const r = await Promise.race([read(), tick]);
      if (timer !== undefined) clearTimeout(timer);
      if (r === null || r.kind !== "data") return;
      pending = null;
      parser.feed(decoder.decode(r.value, { stream: true }));
    }
  }

  function closeWith(controller: ReadableStreamDefaultController<Uint8Array>, end: Read) {
    const complete = doneSeen || (end.kind === "end" && finishSeen && !upstreamError);
    if (complete) {
      if (o.includeUsage && !usageForwarded && reported) {
        queue.push(encodeJson({ object: "chat.completion.chunk", choices: [], usage: { ...usageJson(reported), ...(o.costOf ? { cost: o.costOf(reported) } : {}) } }));
      }
      queue.push(DONE);
    } else {
      const code = upstreamError ? "upstream_error" : end.kind === "failed" && end.message === "idle" ? "upstream_idle_timeout" : "upstream_stream_ended";
      const message = upstreamError && isObject(upstreamError) && typeof upstreamError.message === "string"
        ? upstreamError.message
        : code === "upstream_idle_timeout" ? `The provider went silent for ${o.idleDeadlineMs} ms; the stream was cut.`
        : "The provider's stream ended before the answer was complete.";
      queue.push(encodeJson({ error: { message, type: "server_error", param: null, code } }));
      if (!doneSeen) o.abortUpstream(code);
      finish({ complete: false, cancelledByClient: false, errorCode: code });
    }
    for (const chunk of queue.splice(0)) controller.enqueue(chunk);
    controller.close();
    if (complete) finish({ complete: true, cancelledByClient: false, errorCode: null });
  }

  parser.feed(decoder.decode(o.first, { stream: true }));

  /** The client went away: stop the provider at once and bill what was delivered. */
  function clientGone() {
    if (finished) return;
    o.abortUpstream("client_disconnected");
    o.reader.cancel().catch(() => undefined);
    finish({ complete: false, cancelledByClient: true, errorCode: "client_disconnected" });
  }
  o.clientSignal?.addEventListener("abort", clientGone, { once: true });

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (queue.length === 0 && !doneSeen && !upstreamError) {
        const r = await next();
        if (r === null) { controller.enqueue(KEEPALIVE); return; }
        if (r.kind !== "data") return closeWith(controller, r);
        lastDataAtMs = o.now();
        parser.feed(decoder.decode(r.value, { stream: true }));
      }
      for (const chunk of queue.splice(0)) controller.enqueue(chunk);
      if (doneSeen || upstreamError) {
        if (doneSeen) await awaitReceipt();
        o.reader.cancel().catch(() => undefined);
        closeWith(controller, { kind: "end" });
      }
    },
    cancel: clientGone,
  }, { highWaterMark: 0 });
}

const usageJson = (u: { promptTokens: number; completionTokens: number }) => ({
  prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens,
});
