import { defineConfig } from "vitest/config";

// Three projects, run in order by `npm test`: pure unit tests (Node, ms each), the worker
// inside workerd against real Postgres, and the full local network driven by the openai SDK.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["workers/**/*.test.ts", "provider-runtime/**/*.test.ts", "scripts/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          // One shared network whose engines the tests switch into fault modes: one file at a time.
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
