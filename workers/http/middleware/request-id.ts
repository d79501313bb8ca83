import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";

/** Every response carries x-request-id; the id is also the usage event's key. */
export const requestId = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  c.set("startedAtMs", Date.now());
  const id = `gen-${crypto.randomUUID().replaceAll("-", "")}`;
  c.set("requestId", id);
  await next();
  c.res.headers.set("x-request-id", id);
};
