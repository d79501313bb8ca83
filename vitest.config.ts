import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vitest/config";

/**
 * A package file imported as text: wrangler bundles it so through wrangler.toml's [[rules]], but the
 * workerd pool applies those rules only to the project's own files (a node_modules import reaches
 * it with Vite's `?v=` cache query, and is then evaluated as JavaScript).
 */
const textFromPackage = (specifier: string, file: string): Plugin => {
  // A virtual module; the query keeps the pool's own Text rule (which matches the file name) off it.
  const virtual = `\0${specifier}?text`;
  return {
    name: "meshgate:text-from-package",
    enforce: "pre",
    resolveId: (id) => (id === specifier ? virtual : null),
    load: (id) => (id === virtual ? `export default ${JSON.stringify(readFileSync(file, "utf8"))};` : null),
  };
};

// Five projects, run in order by `npm test`: pure unit tests (Node, ms each), the architecture rules, the contracts on a
// local anvil, the worker inside workerd against real Postgres, and the full local network (chain
// included) driven by the openai SDK.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["workers/**/*.test.ts", "provider-runtime/**/*.test.ts", "scripts/**/*.test.ts", "bench/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // The architecture: import direction, file sizes, no database casts (test/architecture/*.ts, pure over the tree).
        test: {
          name: "architecture",
          include: ["test/architecture/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // Solidity contracts against a local anvil per file (snapshots between tests).
        test: {
          name: "contracts",
          include: ["test/contracts/**/*.test.ts"],
          environment: "node",
          fileParallelism: false,
        },
      },
      {
        // The worker inside workerd (vitest-pool-workers), against a throwaway Postgres and two
        // simulated engines started by the global setup (Node); short deadlines keep it quick.
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: "./workers/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject("DATABASE_URL"),
                WSPROXY: inject("WSPROXY"),
                ADMIN_TOKEN: inject("ADMIN_TOKEN"),
                GATEWAY_REQUEST_KEY: inject("GATEWAY_REQUEST_KEY"),
                GATEWAY_ADDRESS: "0x00000000000000000000000000000000000000a1",
                // Exactly the two engines' host:ports: every other URL meets the production policy.
                PROVIDER_URL_ALLOWLIST: inject("PROVIDER_URL_ALLOWLIST"),
                TTFT_DEADLINE_MS: "1000",
                IDLE_DEADLINE_MS: "2000",
                KEEPALIVE_MS: "500",
                ROUTE_CACHE_MS: "200",
                // test/workers/hot-path.test.ts relies on a warm key staying fresh for its ~1.5 s window.
                KEY_CACHE_MS: "5000",
              },
            },
          })),
          textFromPackage("chart.js/dist/chart.umd.min.js", "node_modules/chart.js/dist/chart.umd.min.js"),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          // CommonJS inside @openzeppelin/merkle-tree (via @metamask/abi-utils) breaks the pool's module shim; pre-bundled it loads.
          deps: { optimizer: { ssr: { enabled: true, include: ["@openzeppelin/merkle-tree"] } } },
          globalSetup: ["test/workers/global-setup.ts"],
          // Shared engines, fault modes and a database-session counter: one file at a time.
          fileParallelism: false,
          // One Miniflare and module graph for every file (about 3 s saved per file); each file seeds what it needs.
          isolate: false,
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          // One shared network whose engines the tests switch into fault modes: one file at a time,
          // in one worker process, so a provider a test restarts (kill.test.ts) lives on for later files.
          fileParallelism: false,
          isolate: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
