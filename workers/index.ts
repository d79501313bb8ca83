import { createApp } from "./app";
import { depsFor } from "./deps";
import type { Env } from "./env";
import { runProbe } from "./jobs/probe";
import { chainSyncJob, SETTLEMENT_CRON, settlementJob } from "./jobs/chain-jobs";

export { AccountGuard } from "./guard/account-guard";

const app = createApp(depsFor);

export default {
  fetch: app.fetch,
  scheduled: (event, env, ctx) => {
    const deps = depsFor(env, ctx);
    if (event.cron === SETTLEMENT_CRON) {
      if (deps.cfg.chain) ctx.waitUntil(settlementJob(deps, env));
      return;
    }
    ctx.waitUntil(runProbe(deps));
    if (deps.cfg.chain) ctx.waitUntil(chainSyncJob(deps));
  },
} satisfies ExportedHandler<Env>;
