/**
 * The provider runtime agent: `npm run provider -- --gateway URL --model M --price-in 0.1 --price-out 0.2 --wallet-key-file F …`
 * (flags and their MESHGATE_* variables: provider-runtime/README.md). Prints one JSON line
 * `{"event":"ready",…}` on stdout once registered. Bad configuration: one line on stderr, exit 2;
 * a refusal that will not change (gateway 4xx, wrong engine model): one line, exit 1; SIGTERM or
 * SIGINT: graceful drain, exit 0.
 * `npm run provider -- verify-receipt …` instead checks a receipt's settlement proof (verify-receipt-cli.ts).
 */
import { exitWithParent } from "./exit-with-parent";
import type { AgentHandle } from "./agent";
import { readConfig, type AgentConfig } from "./config";
import { ConfigError, describe, FatalError } from "./errors";

if (process.argv[2] === "verify-receipt") {
  // A one-shot command, not the agent: its own flags (verify-receipt-cli.ts), no signals to handle.
  const { verifyReceiptCli } = await import("./verify-receipt-cli");
  process.exit(await verifyReceiptCli(process.argv.slice(3)));
}

function fail(code: number, message: string): never {
  process.stderr.write(`meshgate-provider: ${message}\n`);
  process.exit(code);
}

let cfg: AgentConfig;
try {
  cfg = readConfig(process.argv.slice(2));
} catch (err) {
  fail(2, err instanceof ConfigError ? err.message : `configuration: ${describe(err)}`);
}

const starting = new AbortController();
let agent: AgentHandle | undefined;
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  if (!agent) return starting.abort();
  agent.shutdown().then(
    () => process.exit(0),
    (err: unknown) => fail(1, `shutdown failed: ${describe(err)}`),
  );
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
exitWithParent(stop);

try {
  // Loaded after the configuration is known good, so a bad flag is reported at once.
  const { startAgent } = await import("./agent");
  agent = await startAgent(cfg, { signal: starting.signal });
} catch (err) {
  if (starting.signal.aborted) process.exit(0);
  fail(1, err instanceof FatalError || err instanceof ConfigError ? err.message : `cannot start: ${describe(err)}`);
}
process.stdout.write(
  `${JSON.stringify({
    event: "ready",
    url: agent.url,
    publicUrl: agent.publicUrl,
    providerId: agent.providerId,
    address: agent.address,
    gateway: agent.gateway,
    model: cfg.model,
    pid: process.pid,
    engine: agent.engine,
  })}\n`,
);
if (stopping) {
  stopping = false;
  stop();
}
