/** Bundles the worker with wrangler (esbuild), as `wrangler deploy` would, without deploying. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";

const run = promisify(execFile);

export async function buildWorker(outDir: string): Promise<string> {
  await run(path.resolve("node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outDir], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" },
    maxBuffer: 16 * 1024 * 1024,
  });
  return path.join(outDir, "index.js");
}
