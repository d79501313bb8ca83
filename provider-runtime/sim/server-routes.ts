import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { serveEmbeddings } from "./embeddings-route";
import type { SimContext } from "./engine";
import { serveGeneration, type RequestIo } from "./generate-route";
import { serveTokenize } from "./tokenize-route";
import {
  invalidFromZod,
  invalidRequest,
  isLoopback,
  readJsonBody,
  resetConnection,
  sendError,
  sendJson,
  type SimErrorBody,
} from "./http-io";
import { INFERENCE_PATHS, type InferencePath } from "./metrics";
import { SimMode } from "./modes";

export const CONTROL_PATH = "/sim/control";
export const SIMULATOR_HEADER = "x-meshgate-simulator";

/** The engine's request handler: vLLM's OpenAI surface, /health, /metrics and the simulator's control. */
export function createSimHandler(ctx: SimContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // Aborts when the connection closes before the response is complete: client gone or engine closing.
    const controller = new AbortController();
    res.once("close", () => controller.abort());
    route(ctx, req, { res, signal: controller.signal }).catch((err: unknown) => {
      if (controller.signal.aborted) return;
      if (res.headersSent) return void res.destroy();
      sendError(res, 500, { message: `Simulator failure: ${String(err)}`, type: "server_error", code: "server_error" });
    });
  };
}

async function route(ctx: SimContext, req: IncomingMessage, io: RequestIo): Promise<void> {
  const { res } = io;
  res.setHeader(SIMULATOR_HEADER, "1");
  const path = new URL(req.url ?? "/", "http://sim").pathname;
  const method = req.method ?? "GET";

  if (isInferencePath(path)) {
    if (method !== "POST") {
      // Counted whatever the method, so a test can tell that nothing at all reached an inference path.
      ctx.metrics.receive(path);
      return methodNotAllowed(res, "POST");
    }
    return serveInference(ctx, path, req, io);
  }
  if (path === CONTROL_PATH) return serveControl(ctx, req, res);
  if (path === "/tokenize") {
    if (method !== "POST") return methodNotAllowed(res, "POST");
    const body = await readJsonBody(req);
    return body.ok ? serveTokenize(ctx, body.value, res) : sendError(res, body.status, body.error);
  }
  if (method !== "GET" && ["/health", "/v1/models", "/metrics"].includes(path)) return methodNotAllowed(res, "GET");
  if (path === "/health") {
    res.writeHead(200, { "content-length": 0 });
    return void res.end();
  }
  if (path === "/v1/models") return sendJson(res, 200, listModels(ctx));
  if (path === "/metrics") {
    const text = ctx.metrics.render();
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(text) });
    return void res.end(text);
  }
  sendError(res, 404, { message: `No route for ${method} ${path}.`, type: "invalid_request_error", code: "not_found" });
}

/** Every inference request is counted and takes the current fault mode before anything else happens. */
async function serveInference(ctx: SimContext, path: InferencePath, req: IncomingMessage, io: RequestIo): Promise<void> {
  ctx.metrics.receive(path);
  const mode = ctx.modes.take();
  if (mode.mode === "refuse") return resetConnection(req.socket);
  const body = await readJsonBody(req);
  if (mode.mode === "stall_before_first_byte") await sleep(mode.ms, undefined, { signal: io.signal });
  if (mode.mode === "status_before_first_byte") {
    const headers: Record<string, string> = mode.retry_after === undefined ? {} : { "retry-after": String(mode.retry_after) };
    return sendError(io.res, mode.status, faultError(mode.status, mode.message), headers);
  }
  if (mode.mode === "redirect") return sendRedirect(io.res, mode.status, mode.location);
  if (!body.ok) return sendError(io.res, body.status, body.error);
  if (path === "/v1/embeddings") return serveEmbeddings(ctx, body.value, mode, io);
  return serveGeneration(ctx, path === "/v1/chat/completions" ? "chat" : "text", body.value, mode, io);
}

/** Loopback only: the control endpoint changes behaviour for everyone, so it must not be reachable remotely. */
async function serveControl(ctx: SimContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isLoopback(req.socket.remoteAddress)) {
    return sendError(res, 403, {
      message: "The simulator control endpoint answers loopback clients only.",
      type: "permission_error",
      code: "forbidden",
    });
  }
  if (req.method === "GET") return sendJson(res, 200, ctx.modes.current());
  if (req.method !== "POST") return methodNotAllowed(res, "GET, POST");
  const body = await readJsonBody(req);
  if (!body.ok) return sendError(res, body.status, body.error);
  const parsed = SimMode.safeParse(body.value);
  if (!parsed.success) return sendError(res, 400, { ...invalidFromZod(parsed.error), code: "invalid_mode" });
  sendJson(res, 200, ctx.modes.set(parsed.data));
}

function listModels(ctx: SimContext) {
  const { model, embeddingModel, contextLength } = ctx.config;
  const ids = embeddingModel ? [model, embeddingModel] : [model];
  return {
    object: "list",
    data: ids.map((id) => ({
      id,
      object: "model",
      created: ctx.startedAtSec,
      owned_by: "meshgate-simulator",
      root: id,
      parent: null,
      max_model_len: contextLength,
    })),
  };
}

function faultError(status: number, message: string | undefined): SimErrorBody {
  const text = message ?? `Simulated engine failure (status ${status}).`;
  if (status === 429) return { message: text, type: "rate_limit_error", code: "rate_limit_exceeded" };
  if (status >= 500) return { message: text, type: "server_error", code: "simulated_failure" };
  return invalidRequest(text, null, "simulated_failure");
}

/** The body names the target too, as servers' redirect pages do: a client that relays it would show it. */
function sendRedirect(res: ServerResponse, status: number, location: string): void {
  const text = `Simulated redirect to ${location}`;
  res.writeHead(status, { location, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendError(
    res,
    405,
    { message: `Method not allowed; use ${allow}.`, type: "invalid_request_error", code: "method_not_allowed" },
    { allow },
  );
}

function isInferencePath(path: string): path is InferencePath {
  return (INFERENCE_PATHS as readonly string[]).includes(path);
}
