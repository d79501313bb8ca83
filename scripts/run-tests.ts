/**
 * `npm test`: the gates (formatting, the generated worker types, the typecheck), then each vitest
 * project in turn (unit, architecture, contracts, workers in workerd, the end-to-end network), one after another so that
 * timing-sensitive tests do not share the two cores, then one closing line with the totals.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const PROJECTS = ["unit", "architecture", "contracts", "workers", "e2e"];
const only = process.argv.slice(2);
const bin = (name: string) => path.resolve("node_modules/.bin", name);
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "inherit", env: process.env }).status ?? 1;

// Gates before any test, cheapest first; each stops the run on failure.
const GATES = ["format:check", "types:check", "typecheck"];
for (const gate of only.length === 0 ? GATES : []) {
  if (run("npm", ["run", "--silent", gate]) !== 0) {
    console.error(`${gate} failed`);
    console.log("\nTests: 0 passed, 1 failed");
    process.exit(1);
  }
}

mkdirSync("artifacts", { recursive: true });
let passed = 0,
  failed = 0,
  skipped = 0,
  exitCode = 0;
for (const project of only.length ? only : PROJECTS) {
  const report = path.join("artifacts", `vitest-${project}.json`);
  rmSync(report, { force: true });
  const status = run(bin("vitest"), ["run", "--project", project, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`]);
  try {
    const r = JSON.parse(readFileSync(report, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
    };
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
  } catch {
    failed += 1; // the project crashed before it could report
  }
  if (status !== 0) exitCode = 1;
}
if (exitCode !== 0 && failed === 0) failed = 1; // a failing hook or setup still fails the run
if (failed > 0) exitCode = 1; // a failed test fails the run, whatever the runner exited with
console.log(`\nTests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(exitCode);
