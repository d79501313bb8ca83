/**
 * A local anvil node for `npm start`, tests and benches. Spawns the platform binary of
 * `@foundry-rs/anvil` directly (the npm wrapper, once killed, left anvil holding its port) and
 * makes sure it dies with us:
 *  - `stop()` sends SIGTERM (SIGKILL after a grace period) and resolves once it has exited;
 *  - on a normal exit of this process it is SIGKILLed synchronously;
 *  - if this process is killed outright, a tiny watchdog shell holding a pipe from us sees the pipe
 *    close and kills it (anvil, unlike our Node children, cannot watch its stdin itself).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { stopChild } from "../scripts/lib/children";
import { freePort } from "../scripts/lib/ports";

export interface Anvil {
  rpcUrl: string;
  chainId: number;
  pid: number;
  stop(): Promise<void>;
}

export interface StartAnvilOptions {
  /** A fixed port; by default a free one. */
  port?: number;
  /** Seconds between blocks; by default anvil mines one block per transaction. */
  blockTime?: number;
  /** More anvil flags (e.g. `--state FILE` to keep the chain across runs). */
  args?: string[];
}

const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 20;
const PORT_ATTEMPTS = 3;

/** Path of the anvil binary shipped in the optional dependency for this platform. */
export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const dir = path.dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  return path.join(dir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

export async function startAnvil(opts: StartAnvilOptions = {}): Promise<Anvil> {
  // A free port can be taken before anvil binds it: retry on another one, unless the port was given.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(port, opts.blockTime, opts.args ?? []);
    } catch (err) {
      if (opts.port !== undefined || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

async function launch(port: number, blockTime: number | undefined, extra: string[]): Promise<Anvil> {
  const args = ["--host", "127.0.0.1", "--port", String(port), "--silent", ...extra];
  if (blockTime !== undefined) args.push("--block-time", String(blockTime));
  const child = spawn(anvilBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  const stderr: string[] = [];
  child.stderr!.on("data", (d: Buffer) => void stderr.push(d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`anvil failed to spawn: ${anvilBinary()}`);

  const killNow = () => void child.kill("SIGKILL");
  process.once("exit", killNow);
  const watchdog = spawnWatchdog(pid);
  const release = () => {
    process.off("exit", killNow);
    watchdog?.kill("SIGKILL");
    watchdog?.stdin?.destroy();
  };
  child.once("exit", release);

  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    const chainId = await waitReady(rpcUrl, child, () => stderr.join(""));
    let stopping: Promise<void> | undefined;
    return { rpcUrl, chainId, pid, stop: () => (stopping ??= stopChild(child).then(release)) };
  } catch (err) {
    await stopChild(child, 500);
    release();
    throw err;
  }
}

/** A shell that waits for EOF on a pipe from this process (it closes when we die), then kills `pid`. */
function spawnWatchdog(pid: number): ChildProcess | undefined {
  if (process.platform === "win32") return undefined;
  const watchdog = spawn("sh", ["-c", 'read _ignored; kill -9 "$1" 2>/dev/null', "anvil-watchdog", String(pid)], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  watchdog.on("error", () => {}); // without sh, only the exit hook remains
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return watchdog;
}

async function waitReady(rpcUrl: string, child: ChildProcess, stderr: () => string): Promise<number> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`anvil exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr().slice(-500)}`);
    }
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      const body = (await res.json()) as { result?: string };
      if (body.result) return Number(BigInt(body.result));
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`anvil not ready at ${rpcUrl} within ${READY_TIMEOUT_MS} ms: ${stderr().slice(-500)}`);
}
