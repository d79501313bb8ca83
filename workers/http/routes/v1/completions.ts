/** POST /v1/completions: the inference path, step by step. */
import { Hono } from "hono";
import { CompletionRequest } from "../../../core/openai/schemas";
import { serveInference } from "../../../pipeline/inference/serve";
import { validateInference } from "../../../pipeline/inference/validate";
import type { AppEnv } from "../../app-env";
import { parseJsonBody } from "../../parse";
import { inferenceCall } from "./inference-call";

export const completionRoutes = new Hono<AppEnv>().post("/completions", async (c) => {
  // request id → authenticate (middleware, app.ts): who is calling, when, from which edge
  const call = inferenceCall(c);
  // parse and validate: the OpenAI body, then models, streaming, the prompt estimate, steering
  const req = validateInference({ endpoint: "completions", body: await parseJsonBody(c, CompletionRequest) }, call.key);
  // admit → route + forward (failover before the first byte) → relay (SSE) or JSON → finish (meter, settle)
  return serveInference(c.var.deps, call, req);
});
