/**
 * POST /admin/v1/drain (admin token): the host's orderly stop (scripts/gateway.ts on SIGTERM).
 * From the call on, other requests get a 503 `server_shutting_down`; it answers once the running
 * requests ended and every usage record is written, or at the deadline with what is left.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { constantTimeEqual } from "../../core/auth/keys";
import { errors } from "../../core/openai/errors";
import type { AppEnv } from "../app-env";
import { parseQuery } from "../parse";

export const DRAIN_PATH = "/admin/v1/drain";
const DrainQuery = z.object({ deadline_ms: z.coerce.number().int().min(0).max(60_000).optional() });
const DEFAULT_DEADLINE_MS = 10_000;

export const drainRoutes = new Hono<AppEnv>().post("/drain", async (c) => {
  const token = c.req.header("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
  if (!token || !constantTimeEqual(token, c.var.deps.cfg.adminToken)) throw errors.invalidKey();
  const q = parseQuery(c, DrainQuery);
  const report = await c.var.deps.lifecycle.drain(q.deadline_ms ?? DEFAULT_DEADLINE_MS);
  return c.json({ complete: report.complete, in_flight: report.inFlight, unwritten: report.unwritten, took_ms: report.tookMs });
});

/** While draining, every request but the drain itself is refused with a retryable 503. */
export const refuseWhileDraining = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (c.var.deps.lifecycle.draining && c.req.path !== DRAIN_PATH) throw errors.shuttingDown();
  await next();
};
