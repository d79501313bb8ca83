/**
 * CLI for the simulated engine (test/demo only):
 *   tsx provider-runtime/sim/main.ts --port 8001 --model meshgate/sim-llama-8b [--embedding-model meshgate/sim-embed]
 *     [--host 127.0.0.1] [--ttft-ms 20] [--tokens-per-second 200] [--max-running 64] [--context-length 8192] [--name sim-a]
 * Prints one JSON line `{"event":"ready",…}` on stdout when listening; a bad flag is one line on stderr and exit 2.
 */
import { parseArgs } from "node:util";
import { SimEngineOptions, startSimEngine } from "./engine";
import { exitWithParent } from "../src/exit-with-parent";

const FLAGS = {
  port: { type: "string" },
  host: { type: "string" },
  model: { type: "string" },
  "embedding-model": { type: "string" },
  "ttft-ms": { type: "string" },
  "tokens-per-second": { type: "string" },
  "max-running": { type: "string" },
  "context-length": { type: "string" },
  name: { type: "string" },
} as const;

/** Option name in the schema → the flag a user typed, for error messages. */
const FLAG_FOR: Record<string, string> = {
  port: "--port",
  host: "--host",
  model: "--model",
  embeddingModel: "--embedding-model",
  ttftMs: "--ttft-ms",
  tokensPerSecond: "--tokens-per-second",
  maxRunning: "--max-running",
  contextLength: "--context-length",
  name: "--name",
};

function fail(message: string): never {
  process.stderr.write(`meshgate-sim: ${message}\n`);
  process.exit(2);
}

function readOptions(argv: string[]): SimEngineOptions {
  let values: Partial<Record<keyof typeof FLAGS, string>>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.model === undefined) fail("--model is required (the chat/completions model id)");
  // Numbers stay NaN when malformed, so the schema reports them against the right flag.
  const num = (v: string | undefined) => (v === undefined ? undefined : v.trim() === "" ? Number.NaN : Number(v));
  const parsed = SimEngineOptions.safeParse({
    port: num(values.port),
    host: values.host,
    model: values.model,
    embeddingModel: values["embedding-model"],
    ttftMs: num(values["ttft-ms"]),
    tokensPerSecond: num(values["tokens-per-second"]),
    maxRunning: num(values["max-running"]),
    contextLength: num(values["context-length"]),
    name: values.name,
  });
  if (!parsed.success) {
    fail(parsed.error.issues.map((i) => `${FLAG_FOR[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join("; "));
  }
  return parsed.data;
}

const engine = await startSimEngine(readOptions(process.argv.slice(2))).catch((err: unknown) =>
  fail(`cannot start: ${err instanceof Error ? err.message : String(err)}`),
);
process.stdout.write(
  `${JSON.stringify({ event: "ready", url: engine.url, controlUrl: engine.controlUrl, metricsUrl: engine.metricsUrl, pid: process.pid })}\n`,
);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  engine.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
exitWithParent(stop);
