/**
 * Bundles the agent (and the simulated engine it can start) into one ESM file with its
 * dependencies inlined, so the container runs it with plain `node`: no tsx, no node_modules.
 *   tsx provider-runtime/src/bundle.ts OUTFILE
 * esbuild arrives with tsx (a dev dependency): the Dockerfile runs this in its build stage.
 */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("./main.ts", import.meta.url));

export async function bundleAgent(outfile: string): Promise<void> {
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    legalComments: "none",
    logLevel: "warning",
    // For any CommonJS dependency that calls require() on a Node built-in.
    banner: { js: "import { createRequire as __meshgateRequire } from 'node:module'; const require = __meshgateRequire(import.meta.url);" },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = process.argv[2];
  if (!outfile) {
    process.stderr.write("usage: tsx provider-runtime/src/bundle.ts OUTFILE\n");
    process.exit(2);
  }
  await bundleAgent(outfile);
}
