/**
 * The settlement job from Node (`npm run job:settlement`): the same code the worker's cron runs,
 * for operators who settle from a machine of their own, and for the fault-injection tests, which
 * set MESHGATE_CRASH_AT=recorded|signed|sent|confirmed to SIGKILL the process at that step.
 *
 * Environment: DATABASE_URL (postgres://, node-postgres), CHAIN_RPC_URL, SETTLEMENT_ADDRESS,
 * USDC_ADDRESS, CHAIN_ID, CHAIN_CONFIRMATIONS, OPERATOR_PRIVATE_KEY; optional SETTLEMENT_WAIT_MS.
 * Prints the run as one JSON line; exit 0 settled or nothing to do, 3 pending or retryable, 1 error.
 */
import { openNodeDb } from "../db/node";
import type { WithDb } from "../db/client";
import { readChainConfig } from "../workers/config";
import { operator } from "../workers/adapters/chain/operator";
import { chainReader } from "../workers/adapters/chain/reader";
import { pgSettlementStore } from "../workers/adapters/postgres/settlement";
import { runSettlement, type CrashPoint } from "../workers/jobs/settlement";

const CRASH_POINTS: CrashPoint[] = ["recorded", "signed", "sent", "confirmed"];

function fail(message: string): never {
  process.stderr.write(`job:settlement: ${message}\n`);
  process.exit(1);
}

const env = process.env;
const crashAt = env.MESHGATE_CRASH_AT as CrashPoint | undefined;
if (crashAt !== undefined && !CRASH_POINTS.includes(crashAt)) fail(`MESHGATE_CRASH_AT must be one of ${CRASH_POINTS.join(", ")}`);
if (!env.DATABASE_URL) fail("DATABASE_URL is required");
if (!env.OPERATOR_PRIVATE_KEY) fail("OPERATOR_PRIVATE_KEY is required");
let config;
try {
  config = readChainConfig(env);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (!config) fail("CHAIN_RPC_URL is required");

const { db, close } = openNodeDb(env.DATABASE_URL);
// One pool for the whole run; each store call is still its own unit of work on it.
const onePool: WithDb = (fn) => fn(db);
try {
  // The ports the worker wires in workers/wire.ts, over node-postgres.
  const chain = chainReader(config);
  const run = await runSettlement({
    store: pgSettlementStore(onePool),
    chain,
    operator: operator(chain, env.OPERATOR_PRIVATE_KEY),
    config,
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    // A real crash: no finally blocks, no flushed buffers, the process is simply gone.
    checkpoint: (at) => {
      if (at === crashAt) process.kill(process.pid, "SIGKILL");
    },
  });
  console.log(JSON.stringify(run));
  await close();
  process.exit(run.status === "settled" || run.status === "nothing_to_settle" ? 0 : 3);
} catch (err) {
  await close().catch(() => undefined);
  fail(err instanceof Error ? err.message : String(err));
}
