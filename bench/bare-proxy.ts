/**
 * The floor for `npm run bench`: a bare Hono proxy in workerd that forwards the request body to
 * the engine and returns the engine's response as it is. No auth, validation, routing or metering.
 * `/v1/*` goes to UPSTREAM; `/stream/v1/*` to STREAM_UPSTREAM (the engine paced for streaming).
 */
import { Hono, type Context } from "hono";

interface Bindings {
  UPSTREAM: string;
  STREAM_UPSTREAM: string;
}
type Ctx = Context<{ Bindings: Bindings }>;

const forward = (c: Ctx, base: string, path: string) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": c.req.header("content-type") ?? "application/json" },
    body: c.req.raw.body,
  });

const app = new Hono<{ Bindings: Bindings }>()
  .post("/v1/*", (c) => forward(c, c.env.UPSTREAM, c.req.path))
  .post("/stream/v1/*", (c) => forward(c, c.env.STREAM_UPSTREAM, c.req.path.slice("/stream".length)));

export default app;
