/** POST /v1/chat/completions, /v1/completions, /v1/embeddings: one pipeline, three schemas. */
import { Hono } from "hono";
import { ChatRequest, CompletionRequest, EmbeddingRequest } from "../../../core/openai/schemas";
import { infer, type EndpointSpec } from "../../../pipeline/infer";
import type { AppEnv } from "../../app-env";
import { readJson } from "../../read-json";
import type { z } from "zod";

const edgeOf = (req: Request, fallback: string) =>
  (req as Request & { cf?: { colo?: unknown } }).cf?.colo?.toString() || fallback;

const handler = <S extends z.ZodType>(spec: EndpointSpec<S>) => async (c: import("hono").Context<AppEnv>) =>
  infer({
    deps: c.var.deps, key: c.var.key, requestId: c.var.requestId, startedAtMs: c.var.startedAtMs, signal: c.req.raw.signal,
    edge: edgeOf(c.req.raw, c.var.deps.cfg.edgeFallback),
  }, spec, await readJson(c));

export const inferenceRoutes = new Hono<AppEnv>()
  .post("/chat/completions", handler({ endpoint: "chat", path: "/v1/chat/completions", schema: ChatRequest }))
  .post("/completions", handler({ endpoint: "completions", path: "/v1/completions", schema: CompletionRequest }))
  .post("/embeddings", handler({ endpoint: "embeddings", path: "/v1/embeddings", schema: EmbeddingRequest }));
