/** What every bench script needs: a quiet log with a tail for failures, ordered teardown, one runner. */
import { performance } from "node:perf_hooks";
import { fmt } from "./table";

const logTail: string[] = [];
/** Child-process lines: kept (the last 200) for a failure report; errors shown at once. */
export const log = (line: string) => {
  logTail.push(line);
  logTail.splice(0, Math.max(0, logTail.length - 200));
  if (/error|fail|exception|uncaught/i.test(line)) process.stderr.write(`${line}\n`);
};

/** Teardown steps, run in reverse order once, on success, failure or Ctrl-C. */
export const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
export const cleanup = () =>
  (cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  })());
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: tearing the bench network down…\n`);
    void cleanup().then(() => process.exit(130));
  });
}

/** Runs a bench's main (which returns its markdown report), tears down, prints, exits. */
export async function runBench(name: string, main: () => Promise<string>): Promise<never> {
  const began = performance.now();
  try {
    const text = await main();
    await cleanup();
    console.log(`${text}\nTotal runtime including teardown: ${fmt((performance.now() - began) / 1000, 1)} s`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (logTail.length) process.stderr.write(`last lines from the network:\n${logTail.slice(-40).join("\n")}\n`);
    await cleanup();
    process.exit(1);
  }
}
