/** createApp(): the Hono app, built once per isolate. Routes are thin; the pipeline does the work. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errors } from "./core/openai/errors";
import type { Deps } from "./ports";
import type { Env } from "./config";
import type { AppEnv } from "./http/app-env";
import { authenticate } from "./http/middleware/authenticate";
import { requestId } from "./http/middleware/request-id";
import { renderError } from "./http/render-error";
import { adminRoutes } from "./http/routes/admin";
import { financeRoutes } from "./http/routes/finance";
import { dashboardRoutes } from "./http/routes/dashboard";
import { drainRoutes, refuseWhileDraining } from "./http/routes/drain";
import { providerRoutes } from "./http/routes/providers";
import { generationRoutes } from "./http/routes/v1/generation";
import { chatRoutes } from "./http/routes/v1/chat";
import { completionRoutes } from "./http/routes/v1/completions";
import { embeddingRoutes } from "./http/routes/v1/embeddings";
import { modelRoutes } from "./http/routes/v1/models";

export function createApp(depsFor: (env: Env, ctx: ExecutionContext) => Deps) {
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  app.use("*", async (c, next) => {
    c.set("deps", depsFor(c.env, c.executionCtx));
    await next();
  });
  app.use("*", refuseWhileDraining());
  app.use("*", async (c, next) =>
    bodyLimit({
      maxSize: c.var.deps.cfg.bodyLimitBytes,
      onError: async () => {
        // Read the rest of the upload first: answering mid-upload resets the client's connection.
        await drain(c.req.raw.body, 8 * c.var.deps.cfg.bodyLimitBytes);
        throw errors.bodyTooLarge(c.var.deps.cfg.bodyLimitBytes);
      },
    })(c, next),
  );

  app.get("/health", (c) => c.json({ ok: true }));
  app.use("/v1/*", authenticate("inference"));
  app.route("/v1", chatRoutes);
  app.route("/v1", completionRoutes);
  app.route("/v1", embeddingRoutes);
  app.route("/v1", modelRoutes);
  app.route("/v1", generationRoutes);
  app.route("/admin/v1", drainRoutes);
  app.route("/admin/v1", adminRoutes);
  app.use("/finance/v1/*", authenticate("finance"));
  app.route("/finance/v1", financeRoutes);
  app.route("/providers/v1", providerRoutes);
  app.route("/dashboard", dashboardRoutes);

  app.notFound((c) => {
    const path = c.req.path;
    const allow = allowedMethods(app, path);
    const err =
      allow.length > 0 && !allow.includes(c.req.method)
        ? errors.methodNotAllowed(c.req.method, path, allow)
        : errors.notFound(`Route ${c.req.method} ${path}`);
    return renderError(err, c.var.requestId ?? "none");
  });
  app.onError((err, c) => renderError(err, c.var.requestId ?? "none"));
  return app;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The methods `path` has a route for (middleware and catch-alls, registered for "ALL", do not count); GET brings HEAD. */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const allow: string[] = [];
  for (const method of METHODS) {
    const [matches] = app.router.match(method, path);
    if (!matches.some(([[, route]]) => route.method !== "ALL")) continue;
    allow.push(method);
    if (method === "GET") allow.push("HEAD");
  }
  return allow;
}

async function drain(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
  if (!body || body.locked) return;
  const reader = body.getReader();
  let seen = 0;
  try {
    for (let r = await reader.read(); !r.done && seen < maxBytes; r = await reader.read()) seen += r.value.byteLength;
  } catch {
    // The client went away: nothing left to drain.
  } finally {
    reader.releaseLock();
  }
}
