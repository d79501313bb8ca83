/**
 * The agent's HTTP server, the only door to the engine: POST /v1/chat/completions, /v1/completions
 * and /v1/embeddings, each verified as the gateway's before it is forwarded; POST /meshgate/v1/challenge
 * (the gateway's endpoint-ownership challenge at registration, verified the same way, answered by
 * challenge.ts); GET /health for the container and the gateway; anything else 404. While draining, new requests get 503 and the
 * in-flight ones finish.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { openAiError } from "./errors";
import type { Forwarder } from "./forward";
import { sendJson } from "./forward";
import type { GatewayAuth } from "./gateway-auth";
import type { ChallengeResponder } from "./challenge";
import { CHALLENGE_PATH } from "../../workers/core/protocol/endpoint-challenge";

const INFERENCE_PATHS = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]);
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_CHALLENGE_BYTES = 8 * 1024;

export interface ServerState {
  registered: boolean;
  draining: boolean;
}

export interface AgentServer {
  server: Server;
  /** Binds; resolves with the local URL (a wildcard bind is reached through loopback). */
  listen(port: number, host: string): Promise<{ url: string; port: number }>;
  inFlight(): number;
  /** Resolves true when nothing is in flight, false if `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export function createAgentServer(d: {
  auth: GatewayAuth;
  forwarder: Forwarder;
  state: ServerState;
  /** Absent: the challenge path is not served (404). */
  challenge?: ChallengeResponder;
}): AgentServer {
  let inFlight = 0;
  let onIdle: (() => void)[] = [];

  const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, (req, res) => {
    res.on("error", () => {}); // a write racing a closed socket; the close handlers deal with it
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (INFERENCE_PATHS.has(path)) return void serveInference(req, res, path);
    if (path === CHALLENGE_PATH && d.challenge && req.method === "POST") return void serveChallenge(req, res, d.challenge);
    if (path === "/health" && (req.method === "GET" || req.method === "HEAD")) {
      return sendJson(res, 200, { ok: true, registered: d.state.registered, draining: d.state.draining });
    }
    sendJson(res, 404, openAiError(`No route for ${req.method} ${path}.`, "invalid_request_error", "not_found"));
  });

  async function serveInference(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== "POST") {
      return sendJson(res, 405, openAiError("Method not allowed; use POST.", "invalid_request_error", "method_not_allowed"), {
        allow: "POST",
      });
    }
    if (d.state.draining) {
      return sendJson(res, 503, openAiError("This provider is shutting down.", "server_error", "provider_draining"), {
        connection: "close",
      });
    }
    inFlight++;
    try {
      const body = await readBody(req);
      if (body === null) {
        return sendJson(
          res,
          413,
          openAiError(`The request body exceeds ${MAX_BODY_BYTES} bytes.`, "invalid_request_error", "request_too_large"),
          {
            connection: "close",
          },
        );
      }
      const auth = await d.auth.verify(req, body);
      if (!auth.ok) return rejectSignature(res, auth.reason);
      await d.forwarder.forward(req, res, path, body, auth.requestId);
    } catch {
      if (!res.headersSent && !res.destroyed)
        sendJson(res, 400, openAiError("The request could not be read.", "invalid_request_error", "bad_request"));
      else res.destroy();
    } finally {
      if (--inFlight === 0) {
        const waiters = onIdle;
        onIdle = [];
        for (const w of waiters) w();
      }
    }
  }

  async function serveChallenge(req: IncomingMessage, res: ServerResponse, responder: ChallengeResponder): Promise<void> {
    try {
      const body = await readBody(req, MAX_CHALLENGE_BYTES);
      if (body === null) {
        return sendJson(res, 413, openAiError("The challenge is too large.", "invalid_request_error", "request_too_large"));
      }
      const auth = await d.auth.verify(req, body);
      if (!auth.ok) return rejectSignature(res, auth.reason);
      const answer = await responder.answer(body);
      sendJson(res, answer.status, answer.body);
    } catch {
      if (!res.headersSent && !res.destroyed)
        sendJson(res, 400, openAiError("The request could not be read.", "invalid_request_error", "bad_request"));
    }
  }

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const bound = (server.address() as AddressInfo).port;
          resolve({ url: `http://${urlHost(host)}:${bound}`, port: bound });
        });
      });
    },
    inFlight: () => inFlight,
    idle(timeoutMs) {
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        onIdle.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    /** Stops listening and cuts what is still open; waits (bounded) for the cut requests' receipts to be filed. */
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await this.idle(5_000);
    },
  };
}

/** The body, or null past the limit (read to the end either way, so the answer can be sent). */
function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once("end", () => resolve(size > limit ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** A request whose gateway signature does not verify: 401, the reason named. */
function rejectSignature(res: ServerResponse, reason: string): void {
  sendJson(res, 401, openAiError(`Gateway signature rejected (${reason}).`, "invalid_request_error", "invalid_gateway_signature"));
}
