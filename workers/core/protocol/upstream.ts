/**
 * A request forwarded to a provider runtime, and its reply as the gateway holds it: the whole JSON
 * body, or a stream's first chunk and the reader for the rest (nothing reaches the client before that).
 */
import type { ProviderOffer } from "../routing/types";

export type UpstreamPath = "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings";

export interface UpstreamRequest {
  offer: ProviderOffer;
  path: UpstreamPath;
  body: string;
  stream: boolean;
  requestId: string;
  /** For streams: headers and first chunk; for JSON: the whole body. */
  deadlineMs: number;
  /** The client's signal: when it aborts (the client left), the provider's request is aborted at once. */
  signal?: AbortSignal;
}

interface Timing {
  sentAtMs: number;
  firstByteAtMs: number;
}

export type UpstreamReply =
  /** `text` is the provider's body as sent, relayed as is; `body` is it parsed, for usage. */
  | ({ kind: "json"; body: Record<string, unknown>; text: string; headers: Headers } & Timing)
  | ({
      kind: "stream";
      headers: Headers;
      first: Uint8Array;
      reader: ReadableStreamDefaultReader<Uint8Array>;
      /** Cancels the upstream request (client went away, idle deadline). */
      abort(reason: string): void;
    } & Timing);
