/**
 * Runs the worker bundle in workerd through the Miniflare API (no wrangler dev proxy in front),
 * and fires the scheduled handler on an interval, since crons do not fire by themselves locally.
 * Prints one ready line. SIGTERM/SIGINT drain the worker first (POST /admin/v1/drain: new requests
 * get a 503, running ones finish, every usage record is written), then dispose workerd.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import path from "node:path";
import { Miniflare } from "miniflare";
import { exitWithParent } from "../provider-runtime/src/exit-with-parent";

const { values } = parseArgs({
  options: {
    script: { type: "string" },
    port: { type: "string", default: "8787" },
    bindings: { type: "string" },
    "cron-every-ms": { type: "string", default: "10000" },
    /** How often the hourly settlement cron fires locally (0: never; tests run the job themselves). */
    "settle-every-ms": { type: "string", default: "0" },
    /** A bundle without the gateway's Durable Objects (the bench's bare proxy). */
    bare: { type: "boolean", default: false },
  },
});
if (!values.script || !values.bindings) {
  console.error("gateway: --script and --bindings (a JSON file) are required");
  process.exit(2);
}
const bindings = JSON.parse(readFileSync(values.bindings, "utf8")) as Record<string, string>;

/**
 * wrangler.toml's `[[rules]] type = "Text"` globs: wrangler bundles such files (the dashboard's
 * Chart.js, script and stylesheet) as separate text modules beside index.js, and workerd must load
 * them as text, not as JavaScript.
 */
function textModuleGlobs(): string[] {
  const toml = readFileSync("wrangler.toml", "utf8");
  return toml
    .split(/^\[\[rules\]\]\s*$/m)
    .slice(1)
    .map((block) => block.split(/^\[/m)[0] ?? "")
    .filter((block) => /^type\s*=\s*"Text"/m.test(block))
    .flatMap((block) => [...(/^globs\s*=\s*\[([^\]]*)\]/m.exec(block)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!));
}

const mf = new Miniflare({
  scriptPath: values.script,
  modulesRules: [{ type: "Text", include: textModuleGlobs() }],
  // Module names are resolved under this root; the bundle may live outside the repo (tests use a temp dir).
  modulesRoot: path.dirname(values.script),
  modules: true,
  compatibilityDate: "2026-04-01",
  compatibilityFlags: ["nodejs_compat", "enable_request_signal"],
  // The bundle's AccountGuard class (wrangler.toml's durable_objects binding).
  durableObjects: values.bare ? {} : { ACCOUNT_GUARD: { className: "AccountGuard", useSQLite: true } },
  bindings,
  host: "127.0.0.1",
  port: Number(values.port),
  ...(process.env.MESHGATE_INSPECTOR_PORT && !values.bare && bindings.ADMISSION !== "off"
    ? { inspectorPort: Number(process.env.MESHGATE_INSPECTOR_PORT), unsafeInspectorProxy: true }
    : {}),
});
const url = await mf.ready;
const worker = await mf.getWorker();
const cronEveryMs = Number(values["cron-every-ms"]);
const fire = (cron: string) => () => {
  worker.scheduled({ cron }).catch((e: unknown) => console.error(`scheduled: ${String(e)}`));
};
const cron = cronEveryMs > 0 ? setInterval(fire("*/1 * * * *"), cronEveryMs) : undefined;
const settleEveryMs = Number(values["settle-every-ms"]);
const settleCron = settleEveryMs > 0 ? setInterval(fire("0 * * * *"), settleEveryMs) : undefined;

console.log(JSON.stringify({ event: "ready", url: url.toString().replace(/\/$/, ""), pid: process.pid }));

/** The worker's own drain bound; the host waits a little longer for its answer. */
const DRAIN_DEADLINE_MS = 10_000;

/** Asks the isolate to drain; logs what it left behind (never throws: the stop goes on). */
async function drain(): Promise<void> {
  if (values.bare || !bindings.ADMIN_TOKEN) return;
  try {
    const res = await fetch(`${url.toString().replace(/\/$/, "")}/admin/v1/drain?deadline_ms=${DRAIN_DEADLINE_MS}`, {
      method: "POST",
      headers: { authorization: `Bearer ${bindings.ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(DRAIN_DEADLINE_MS + 5_000),
    });
    const report = (await res.json().catch(() => null)) as { complete?: boolean } | null;
    if (!res.ok || !report?.complete) console.error(`gateway: drain incomplete (${res.status}): ${JSON.stringify(report)}`);
  } catch (err) {
    console.error(`gateway: drain failed: ${String(err)}`);
  }
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  if (cron) clearInterval(cron);
  if (settleCron) clearInterval(settleCron);
  await drain();
  await mf.dispose().catch(() => undefined);
  process.exit(0);
}
// Miniflare's own exit hook kills workerd and exits (143) the moment a signal comes, before any
// drain could run: the host's stop replaces it (dispose still runs, after the drain).
process.removeAllListeners("SIGTERM");
process.removeAllListeners("SIGINT");
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
exitWithParent(() => void stop());
