import { defineConfig } from "vitest/config";

// Three projects, run in order by `npm test`: pure unit tests (Node, ms each), the worker
// inside workerd against real Postgres, and the full local network driven by the openai SDK.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["workers/core/**/*.test.ts", "provider-runtime/**/*.test.ts", "scripts/**/*.test.ts"],
          environment: "node",
        },
      },
    ],
  },
});
