/** Child processes that announce readiness with one JSON line `{"event":"ready",...}` on stdout. */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface ReadyChild<T> {
  child: ChildProcess;
  pid: number;
  ready: T;
  stop(): Promise<void>;
}

const TSX = ["--import", "tsx"];

/** Runs a TypeScript entry under Node + tsx; resolves once it prints its ready line. */
export function spawnTs<T>(
  entry: string,
  args: string[],
  opts: {
    name: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    log?: (line: string) => void;
    /** How long stop() waits after SIGTERM before SIGKILL (the gateway drains its usage first). */
    stopGraceMs?: number;
  },
): Promise<ReadyChild<T>> {
  const child = spawn(process.execPath, [...TSX, entry, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, MESHGATE_EXIT_WITH_PARENT: "1", ...opts.env },
  });
  const stderr: string[] = [];
  child.stderr!.on("data", (d: Buffer) => {
    stderr.push(d.toString());
    opts.log?.(`[${opts.name}] ${d.toString().trimEnd()}`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${opts.name} not ready within ${opts.timeoutMs ?? 30_000} ms: ${stderr.join("").slice(-500)}`));
    }, opts.timeoutMs ?? 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited with ${code} before it was ready: ${stderr.join("").slice(-500)}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        opts.log?.(`[${opts.name}] ${line}`);
        return;
      }
      if (typeof msg === "object" && msg !== null && (msg as { event?: unknown }).event === "ready") {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({ child, pid: child.pid!, ready: msg as T, stop: () => stopChild(child, opts.stopGraceMs) });
      } else opts.log?.(`[${opts.name}] ${line}`);
    });
  });
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
