import { createApp } from "./app";
import { depsFor } from "./deps";
import type { Env } from "./env";
import { runProbe } from "./jobs/probe";

export { AccountGuard } from "./guard/account-guard";

const app = createApp(depsFor);

export default {
  fetch: app.fetch,
  scheduled: (_event, env, ctx) => ctx.waitUntil(runProbe(depsFor(env, ctx))),
} satisfies ExportedHandler<Env>;
