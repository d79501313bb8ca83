/** GET /v1/models and /v1/models/{id}: the models the network serves now, with price ranges. */
import { Hono } from "hono";
import { errors } from "../../../core/openai/errors";
import { formatUsdc } from "../../../core/money/units";
import { listServedModels, type ServedModel } from "../../../core/routing/catalog";
import type { AppEnv } from "../../app-env";

const perMillion = (microPerM: bigint) => formatUsdc(microPerM * 1_000_000n);

function toOpenAI(m: ServedModel) {
  return {
    id: m.model,
    object: "model" as const,
    created: 0,
    owned_by: "meshgate",
    context_length: m.contextLength,
    endpoints: m.endpoints,
    providers: m.providers,
    // USDC per million tokens, as decimal strings (money is never a float).
    pricing: {
      prompt: { min: perMillion(m.inputPrice.min), max: perMillion(m.inputPrice.max) },
      completion: { min: perMillion(m.outputPrice.min), max: perMillion(m.outputPrice.max) },
    },
  };
}

export const modelRoutes = new Hono<AppEnv>()
  .get("/models", async (c) => {
    const table = await c.var.deps.routes.table();
    return c.json({ object: "list", data: listServedModels(table, c.var.deps.now(), c.var.deps.cfg.heartbeatFreshMs).map(toOpenAI) });
  })
  .get("/models/:id{.+}", async (c) => {
    const id = c.req.param("id");
    const table = await c.var.deps.routes.table();
    const found = listServedModels(table, c.var.deps.now(), c.var.deps.cfg.heartbeatFreshMs).find((m) => m.model === id);
    if (!found) throw errors.modelNotFound(id);
    return c.json(toOpenAI(found));
  });
