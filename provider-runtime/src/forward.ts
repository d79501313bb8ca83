/**
 * One authenticated request, forwarded to the engine over the keep-alive pool. JSON answers are
 * read whole (the receipt goes in a header, so the body must be complete before the headers are
 * sent); streams are piped chunk by chunk with back-pressure, untouched, and get the receipt as a
 * final `event: meshgate.receipt` after the engine's [DONE]. If the gateway goes away mid-stream,
 * the engine request is aborted at once and the receipt for what was generated goes to the outbox.
 * Engine errors are relayed as they came, without a receipt (nothing was served).
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { RECEIPT_EVENT, RECEIPT_HEADER } from "../../workers/core/protocol/receipt";
import type { Engine } from "./engine";
import { openAiError } from "./errors";
import type { Outbox } from "./outbox";
import { BodyHash, StreamTap, usageFromJson, type ReceiptSigner, type Served, type TokenCounts } from "./receipts";
import { describe } from "./errors";

export interface ForwardDeps {
  engine: Engine;
  signer: ReceiptSigner;
  outbox: Outbox;
  /** The prompt's tokens when a stream ended without its usage chunk (vLLM /tokenize); null if unknown. */
  countPrompt: (path: string, body: Record<string, unknown>) => Promise<number | null>;
  log: (line: string) => void;
}

export interface Forwarder {
  /** Resolves when the exchange is over and its receipt, if any, is in the outbox. */
  forward(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, requestId: string): Promise<void>;
}

type Describe = (counts: TokenCounts, responseHash: `0x${string}`) => Served;

/** Engine headers worth passing on; hop-by-hop and length headers are the agent's own. */
const PASSED_HEADERS = ["content-type", "retry-after", "retry-after-ms", "x-should-retry"];

export function createForwarder(d: ForwardDeps): Forwarder {
  const target = new URL(d.engine.url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  const base = { agent: d.engine.agent, protocol: target.protocol, hostname: target.hostname, port: target.port, method: "POST" };

  return {
    forward(req, res, path, body, requestId) {
      return new Promise<void>((resolve) => {
        const upstream = send({
          ...base,
          path: req.url,
          headers: {
            "content-type": req.headers["content-type"] ?? "application/json",
            accept: req.headers.accept ?? "*/*",
            "content-length": body.length,
            "x-request-id": requestId,
          },
        });
        let settled = false;
        const done = () => {
          if (settled) return;
          settled = true;
          resolve();
        };
        let parsedBody: Record<string, unknown> | undefined;
        const parsed = () => (parsedBody ??= parseObject(body));
        const served: Describe = (counts, responseHash) => ({
          requestId,
          model: modelOf(parsed()),
          ...counts,
          responseHash,
        });

        upstream.on("error", (err) => {
          if (!res.headersSent && !res.destroyed) {
            sendJson(res, 502, openAiError(`The engine is unreachable: ${describe(err)}.`, "server_error", "engine_unavailable"));
          }
          done();
        });
        res.on("close", () => {
          if (!res.writableFinished) upstream.destroy();
        });

        upstream.on("response", (engineRes) => {
          const status = engineRes.statusCode ?? 502;
          const type = String(engineRes.headers["content-type"] ?? "");
          if (status < 200 || status >= 300) return relayAsIs(engineRes, res, status, done);
          if (type.startsWith("text/event-stream")) return relayStream(engineRes, res, status, type, served, path, parsed, done);
          relayJson(engineRes, res, status, type, served, done);
        });
        upstream.end(body);
      });
    },
  };

  function relayAsIs(engineRes: IncomingMessage, res: ServerResponse, status: number, done: () => void) {
    res.writeHead(status, pickHeaders(engineRes));
    engineRes.pipe(res);
    engineRes.on("error", () => res.destroy());
    res.once("close", done);
  }

  function relayJson(engineRes: IncomingMessage, res: ServerResponse, status: number, type: string, served: Describe, done: () => void) {
    const chunks: Buffer[] = [];
    let ended = false;
    engineRes.on("data", (c: Buffer) => chunks.push(c));
    engineRes.on("error", () => {}); // 'close' below handles a cut
    engineRes.once("close", () => {
      if (ended) return;
      if (!res.headersSent && !res.destroyed)
        sendJson(res, 502, openAiError("The engine's response was cut.", "server_error", "engine_failed"));
      done();
    });
    engineRes.once("end", () => {
      ended = true;
      const bytes = Buffer.concat(chunks);
      const hash = new BodyHash();
      hash.update(bytes);
      const s = served(usageFromJson(bytes) ?? { promptTokens: 0, completionTokens: 0 }, hash.digest());
      d.signer
        .sign(s)
        .then((receipt) => {
          // The answer first, then the outbox line (its fsync is a group commit in the background either way).
          if (!res.destroyed) {
            res.writeHead(status, {
              "content-type": type || "application/json",
              "content-length": bytes.length,
              [RECEIPT_HEADER]: receipt,
            });
            res.end(bytes);
          }
          d.outbox.add({ requestId: s.requestId, receipt });
        })
        .catch((err: unknown) => failAfterEngine(res, err))
        .finally(done);
    });
  }

  function relayStream(
    engineRes: IncomingMessage,
    res: ServerResponse,
    status: number,
    type: string,
    served: Describe,
    path: string,
    parsed: () => Record<string, unknown>,
    done: () => void,
  ) {
    const hash = new BodyHash();
    const tap = new StreamTap();
    let over = false;
    res.writeHead(status, { "content-type": type, "cache-control": "no-cache", "x-accel-buffering": "no" });
    res.flushHeaders();
    const resume = () => engineRes.resume();
    engineRes.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      tap.feed(chunk);
      if (!res.write(chunk)) {
        engineRes.pause();
        res.once("drain", resume);
      }
    });
    const finish = (how: "end" | "engine_cut" | "client_gone") => {
      if (over) return;
      over = true;
      void (async () => {
        const promptFallback = tap.reported ? null : await d.countPrompt(path, parsed());
        const s = served(tap.counts(promptFallback), hash.digest());
        const receipt = await d.signer.sign(s);
        d.outbox.add({ requestId: s.requestId, receipt });
        if (how !== "client_gone" && !res.destroyed) res.end(`event: ${RECEIPT_EVENT}\ndata: ${receipt}\n\n`);
      })()
        .catch((err: unknown) => failAfterEngine(res, err))
        .finally(done);
    };
    engineRes.once("end", () => finish("end"));
    // A cut engine stream still gets its receipt; the missing [DONE] tells the gateway it was cut.
    // ('close' follows 'end' on success, when finish has already run.)
    engineRes.on("error", () => {});
    engineRes.once("close", () => finish(res.destroyed ? "client_gone" : "engine_cut"));
    res.once("close", () => {
      if (!res.writableFinished) finish("client_gone");
    });
  }

  function failAfterEngine(res: ServerResponse, err: unknown) {
    d.log(`receipt failed: ${describe(err)}`);
    if (!res.headersSent && !res.destroyed)
      sendJson(res, 500, openAiError("The provider could not sign a receipt.", "server_error", "receipt_failed"));
    else res.destroy();
  }
}

function pickHeaders(engineRes: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const v = engineRes.headers[name];
    if (typeof v === "string") out[name] = v;
  }
  return out;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function parseObject(body: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body.toString("utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function modelOf(body: Record<string, unknown>): string {
  return typeof body.model === "string" && body.model.length > 0 ? body.model : "unknown";
}
