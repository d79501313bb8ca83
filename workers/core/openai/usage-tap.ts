/**
 * The decisions about a provider's SSE stream, one parsed event at a time, kept apart from the
 * stream and its timers (openai-node layers its streaming the same way: SSEDecoder → events →
 * Stream). The tap keeps the usage and the delivered tokens (by core/openai/chunks' one
 * definition, which the provider agent's receipts share), removes the receipt event, strips
 * usage the client did not ask for (upstream is always asked), adds the charge to the usage chunk,
 * and says for each event whether it goes to the client as is, rewritten, or not at all.
 */
import { RECEIPT_EVENT } from "../protocol/receipt";
import { chunkProgress, parseChunk, readUsage, type TokenCounts } from "./chunks";
import { noteChunk, spliceChunk, sumCounts, type SpliceInto, type Transcript } from "./continuation";
import { plainChunk, withoutNullUsage } from "./plain-chunk";

/** One parsed Server-Sent Event (eventsource-parser's EventSourceMessage has this shape). */
export interface SseEvent {
  event?: string | undefined;
  data: string;
}

export type TapAction = { kind: "forward" } | { kind: "drop" } | { kind: "rewrite"; data: string };

export interface UsageTapOptions {
  /** The client asked for usage (stream_options.include_usage). */
  includeUsage: boolean;
  /** The charge for these counts (USDC decimal string), added to the usage chunk the client sees. */
  costOf?: ((tokens: TokenCounts) => string) | undefined;
  /** A continuation's earlier parts' counts: the usage chunk the client gets reports the sum. */
  carried?: TokenCounts | undefined;
}

/** How a tap follows the answer for a possible continuation (see ./continuation). */
export interface TapSplicing {
  /** Noted with every chunk: the answer's identity and text so far, shared across its parts. */
  transcript?: Transcript;
  /** This stream continues another: its chunks are rewritten to that stream's identity. */
  into?: SpliceInto;
}

export interface TapOutcome {
  /** The provider's usage, from the last chunk that carried a readable one. */
  reported: TokenCounts | null;
  /** Per `contentDeltas`: what the client received. */
  deliveredTokens: number;
  finishSeen: boolean;
  doneSeen: boolean;
  /** An upstream `{"error":…}` event, with its message when it had one; the stream stops there. */
  upstreamError: { message: string | null } | null;
  malformedDropped: number;
  /** The provider's signed receipt (its final SSE event), never forwarded. */
  receipt: string | null;
  /** A usage chunk (no choices) went to the client. */
  usageForwarded: boolean;
}

const FORWARD: TapAction = { kind: "forward" };
const DROP: TapAction = { kind: "drop" };

export class UsageTap {
  private readonly state: TapOutcome = {
    reported: null,
    deliveredTokens: 0,
    finishSeen: false,
    doneSeen: false,
    upstreamError: null,
    malformedDropped: 0,
    receipt: null,
    usageForwarded: false,
  };

  constructor(
    private readonly options: UsageTapOptions,
    private readonly splicing: TapSplicing = {},
  ) {}

  /** Upstream said [DONE] or sent an error: nothing after it reaches the client. */
  get ended(): boolean {
    return this.state.doneSeen || this.state.upstreamError !== null;
  }

  outcome(): TapOutcome {
    return { ...this.state };
  }

  consume(ev: SseEvent): TapAction {
    const s = this.state;
    if (ev.event === RECEIPT_EVENT) {
      s.receipt = ev.data;
      return DROP;
    }
    if (this.ended) return DROP;
    // The relay writes its own [DONE] when it closes, after any usage chunk it adds.
    if (ev.data === "[DONE]") {
      s.doneSeen = true;
      return DROP;
    }
    const fast = this.plain(ev.data);
    if (fast) return fast;
    const chunk = parseChunk(ev.data);
    if (!chunk) {
      s.malformedDropped++;
      return DROP;
    }
    if (chunk.error !== undefined && chunk.error !== null) {
      s.upstreamError = { message: messageOf(chunk.error) };
      return DROP;
    }
    s.reported = readUsage(chunk.usage) ?? s.reported;
    const progress = chunkProgress(chunk);
    s.deliveredTokens += progress.deliveredTokens;
    if (progress.finished) s.finishSeen = true;
    if (this.splicing.transcript) noteChunk(this.splicing.transcript, chunk);
    const into = this.splicing.into;
    const spliced = into ? spliceChunk(chunk, into) : chunk;
    if (!spliced) return DROP;
    const action = isUsageChunk(chunk) ? this.usageChunk(spliced) : this.contentChunk(spliced);
    return action.kind === "forward" && spliced !== chunk ? { kind: "rewrite", data: JSON.stringify(spliced) } : action;
  }

  /**
   * The common content chunk (./plain-chunk.ts), decided without JSON.parse exactly as the full
   * path below would: one delivered token if its text is not empty, its text noted for a possible
   * continuation, forwarded as it came (or without its `"usage":null` for a client that did not
   * ask for usage). Null: the chunk needs the full parse — a continuation's chunks are rewritten,
   * and the first stream's identity is read from the first chunk that carries an id.
   */
  private plain(data: string): TapAction | null {
    const t = this.splicing.transcript;
    if (this.splicing.into || (t && t.id === null && data.includes('"id":'))) return null;
    const chunk = plainChunk(data);
    if (!chunk) return null;
    if (chunk.text.length > 0) this.state.deliveredTokens++;
    if (t) t.text += chunk.text;
    return chunk.nullUsage && !this.options.includeUsage ? { kind: "rewrite", data: withoutNullUsage(data) } : FORWARD;
  }

  private usageChunk(chunk: Record<string, unknown>): TapAction {
    if (!this.options.includeUsage) return DROP;
    this.state.usageForwarded = true;
    const { reported } = this.state;
    const { costOf, carried } = this.options;
    if (!reported || (!costOf && !carried)) return FORWARD;
    const counts = carried ? usageCounts(sumCounts(carried, reported)) : {};
    const usage = { ...(chunk.usage as object), ...counts, ...(costOf ? { cost: costOf(reported) } : {}) };
    return { kind: "rewrite", data: JSON.stringify({ ...chunk, usage }) };
  }

  private contentChunk(chunk: Record<string, unknown>): TapAction {
    if (this.options.includeUsage || !("usage" in chunk)) return FORWARD;
    const withoutUsage = { ...chunk };
    delete withoutUsage.usage;
    return { kind: "rewrite", data: JSON.stringify(withoutUsage) };
  }
}

function usageCounts(t: TokenCounts) {
  return { prompt_tokens: t.promptTokens, completion_tokens: t.completionTokens, total_tokens: t.promptTokens + t.completionTokens };
}

/** vLLM's final usage chunk: no choices, a usage object. */
function isUsageChunk(chunk: Record<string, unknown>): boolean {
  const noChoices = !Array.isArray(chunk.choices) || chunk.choices.length === 0;
  return noChoices && typeof chunk.usage === "object" && chunk.usage !== null && !Array.isArray(chunk.usage);
}

function messageOf(error: unknown): string | null {
  if (typeof error !== "object" || error === null) return null;
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" ? message : null;
}

/**
 * How the upstream read stopped, when not at [DONE] or an error event: closed, failed, silent too
 * long, or the request's total deadline passed.
 */
export type StreamEnd = "closed" | "failed" | "idle" | "deadline";
export type StreamErrorCode = "upstream_error" | "upstream_idle_timeout" | "upstream_stream_ended" | "deadline_exceeded";

/** The usage chunk for a client that asked for usage when upstream sent it only in-band. */
export function usageChunk(reported: TokenCounts, costOf?: (tokens: TokenCounts) => string, carried?: TokenCounts): string {
  const usage = { ...usageCounts(carried ? sumCounts(carried, reported) : reported), ...(costOf ? { cost: costOf(reported) } : {}) };
  return JSON.stringify({ object: "chat.completion.chunk", choices: [], usage });
}

/** A failure after the first byte, as the data of an event the openai SDK raises as an APIError. */
export function errorEvent(code: StreamErrorCode, message: string): string {
  return JSON.stringify({ error: { message, type: "server_error", param: null, code } });
}

export interface ClosingOptions extends UsageTapOptions {
  idleDeadlineMs: number;
  /** The request's total deadline (TOTAL_DEADLINE_MS), named in its error event. */
  totalDeadlineMs?: number;
}

export interface Closing {
  /** The answer finished: [DONE], or the stream closed cleanly after a finish_reason. */
  complete: boolean;
  errorCode: StreamErrorCode | null;
  /** The data of the last events the client gets, in order. */
  events: string[];
}

/** How the client's stream ends: [DONE] (after a usage chunk if one is owed), or an error event. */
export function closingEvents(t: TapOutcome, end: StreamEnd, o: ClosingOptions): Closing {
  const complete = t.doneSeen || (end === "closed" && t.finishSeen && t.upstreamError === null);
  if (complete) {
    const owed = o.includeUsage && !t.usageForwarded && t.reported ? [usageChunk(t.reported, o.costOf, o.carried)] : [];
    return { complete, errorCode: null, events: [...owed, "[DONE]"] };
  }
  if (t.upstreamError) {
    const message = t.upstreamError.message ?? "The provider reported an error; the stream was cut.";
    return { complete, errorCode: "upstream_error", events: [errorEvent("upstream_error", message)] };
  }
  const code: StreamErrorCode =
    end === "idle" ? "upstream_idle_timeout" : end === "deadline" ? "deadline_exceeded" : "upstream_stream_ended";
  const message =
    end === "idle"
      ? `The provider went silent for ${o.idleDeadlineMs} ms; the stream was cut.`
      : end === "deadline"
        ? `The request ran past its total deadline (${o.totalDeadlineMs ?? "?"} ms); the stream was cut.`
        : "The provider's stream ended before the answer was complete.";
  return { complete, errorCode: code, events: [errorEvent(code, message)] };
}
