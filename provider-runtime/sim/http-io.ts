import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { z } from "zod";

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The OpenAI error shape (vLLM's own `{"object":"error",…}` is not used: the gateway speaks OpenAI). */
export interface SimErrorBody {
  message: string;
  type: string;
  code: string | null;
  param?: string | null;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, err: SimErrorBody, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message: err.message, type: err.type, param: err.param ?? null, code: err.code } }, headers);
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null): SimErrorBody => ({
  message,
  type: "invalid_request_error",
  param,
  code,
});

export const modelNotFound = (model: string): SimErrorBody => ({
  message: `The model '${model}' does not exist.`,
  type: "invalid_request_error",
  param: "model",
  code: "model_not_found",
});

export type JsonBody = { ok: true; value: unknown } | { ok: false; error: SimErrorBody; status: number };

/** Read and parse a JSON body; a parse failure or an oversized body is an answer, not an exception. */
export async function readJsonBody(req: IncomingMessage): Promise<JsonBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Keep reading past the limit (discarding): leaving the loop early would destroy the socket and the 413 with it.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) {
    return {
      ok: false,
      status: 413,
      error: invalidRequest(`The request body exceeds ${MAX_BODY_BYTES} bytes.`, null, "request_too_large"),
    };
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { ok: false, status: 400, error: invalidRequest("The request body is not valid JSON.", null, "invalid_json") };
  }
}

/** Write, and wait for 'drain' when the socket buffer is full, so a slow client slows the engine. */
export async function writeWithBackpressure(res: ServerResponse, text: string, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (!res.write(text)) await once(res, "drain", { signal });
}

/** Drop the connection with a TCP reset, the way a crashed engine or a full accept queue looks to a client. */
export function resetConnection(socket: Socket): void {
  if (socket.destroyed) return;
  socket.resetAndDestroy();
}

/** Cut a response mid-way: flush what was already written (so the client sees those chunks), then close. */
export function dropConnection(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  socket.end(() => socket.destroy());
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** One line per request: "path: problem; path: problem", and the first path as OpenAI's `param`. */
export function invalidFromZod(error: z.ZodError): SimErrorBody {
  const message = error.issues.map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`).join("; ");
  const first = error.issues[0];
  return invalidRequest(message, first && first.path.length ? first.path.join(".") : null);
}
