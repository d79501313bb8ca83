/** The facts of an inference call that come from the HTTP exchange: its id, key, clock and edge. */
import type { Context } from "hono";
import type { InferenceCall } from "../../../pipeline/inference/validate";
import type { AppEnv } from "../../app-env";

export function inferenceCall(c: Context<AppEnv>): InferenceCall {
  const cf = (c.req.raw as Request & { cf?: { colo?: unknown } }).cf;
  return {
    requestId: c.var.requestId,
    key: c.var.key,
    startedAtMs: c.var.startedAtMs,
    edge: cf?.colo?.toString() || c.var.deps.cfg.edgeFallback,
    signal: c.req.raw.signal,
  };
}
