import type { MiddlewareHandler } from "hono";
import { errors } from "../../core/openai/errors";
import { bearerToken } from "../../core/auth/keys";
import { authenticateKey } from "../../pipeline/inference/authenticate";
import type { AppEnv } from "../app-env";

/** API-key auth for /v1 (inference keys) and /finance (finance keys). */
export const authenticate =
  (role: "inference" | "finance"): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const secret = bearerToken(c.req.header("authorization"));
    if (!secret) throw errors.missingKey();
    const key = await authenticateKey(c.var.deps, secret);
    if (key.role !== role) throw errors.forbidden(`This API key has the role '${key.role}'; this endpoint needs '${role}'.`);
    c.set("key", key);
    await next();
  };
