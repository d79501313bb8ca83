import { createApp } from "./app";
import { depsFor, lifecycle } from "./wire";
import type { Env } from "./config";
import { runProbe } from "./jobs/probe";
import { chainSyncJob, SETTLEMENT_CRON } from "./jobs/chain-jobs";

export { AccountGuard } from "./adapters/account-guard/account-guard";

const app = createApp(depsFor);

export default {
  // Each request is open until it ended (a stream: until metered), so that a drain can wait for it.
  fetch: (req: Request, env: Env, ctx: ExecutionContext) => lifecycle.serve(ctx, async () => app.fetch(req, env, ctx)),
  scheduled: (event, env, ctx) => {
    const deps = depsFor(env, ctx);
    if (event.cron === SETTLEMENT_CRON) {
      if (deps.cfg.chain) ctx.waitUntil(deps.jobs.settle());
      return;
    }
    ctx.waitUntil(runProbe(deps));
    if (deps.cfg.chain) ctx.waitUntil(chainSyncJob(deps));
  },
} satisfies ExportedHandler<Env>;
