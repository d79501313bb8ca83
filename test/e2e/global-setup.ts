/** Starts the whole local network once for the e2e project (free ports, throwaway state). */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startNetwork, type DevInfo } from "../../scripts/lib/network";
import { freePort } from "../../scripts/lib/ports";

declare module "vitest" {
  export interface ProvidedContext {
    dev: DevInfo;
  }
}

/** Short deadlines so that stall tests finish quickly; the behaviour is the same as production's. */
export const E2E_VARS = {
  TTFT_DEADLINE_MS: "1500",
  IDLE_DEADLINE_MS: "2500",
  KEEPALIVE_MS: "1000",
  ROUTE_CACHE_MS: "500",
  HEARTBEAT_FRESH_MS: "4000",
  // A request whose isolate died before its usage flush is billed from its receipt after 3 s, not 60 s.
  RECEIPT_RECONCILE_AFTER_MS: "3000",
  // Two payouts per settle transaction: a period with three providers is split into batches.
  SETTLEMENT_MAX_PAYOUTS: "2",
};

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "meshgate-e2e-"));
  const net = await startNetwork({
    stateDir: dir,
    persistent: false,
    gatewayPort: await freePort(),
    vars: E2E_VARS,
    cronEveryMs: 0,
    log: (line) => {
      if (/error|exception/i.test(line)) console.error(line);
    },
  });
  project.provide("dev", net.info);
  return async () => {
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
