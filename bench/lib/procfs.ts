/** Linux /proc readers for the bench: process trees, CPU time, RSS, per-core busy time; and taskset. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface Proc {
  pid: number;
  comm: string;
  ppid: number;
  cpuTicks: number;
  childCpuTicks: number;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function readProc(pid: number): Proc | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const open = s.indexOf("("),
    close = s.lastIndexOf(")");
  // Fields after the comm: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
  const f = s.slice(close + 2).split(" ");
  const n = (i: number) => Number(f[i - 3]);
  return { pid, comm: s.slice(open + 1, close), ppid: n(4), cpuTicks: n(14) + n(15), childCpuTicks: n(16) + n(17) };
}

export function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** Every live descendant of `root` (not `root` itself). */
export function descendants(root: number, procs = allProcs()): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const walk = (pid: number) => {
    for (const c of byParent.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** Milliseconds of CPU (user + system) used by these processes, plus what their reaped children used. */
export function cpuMs(pids: number[], withReapedChildren = false): number {
  let ticks = 0;
  for (const pid of pids) {
    const p = readProc(pid);
    if (p) ticks += p.cpuTicks + (withReapedChildren ? p.childCpuTicks : 0);
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Postgres: the postmaster, its reaped backends and its live backends (forked per connection). */
export function postgresCpuMs(postmaster: number): number {
  return cpuMs([postmaster], true) + cpuMs(descendants(postmaster).map((p) => p.pid));
}

export interface Memory {
  rssKb: number;
  hwmKb: number;
}

export function memory(pid: number): Memory | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? 0);
  return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

/** Busy and total jiffies per core, from /proc/stat. */
export function coreTimes(): { busy: number; total: number }[] {
  return readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const v = l.trim().split(/\s+/).slice(1).map(Number);
      const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // without guest, already counted in user
      return { busy: total - idle, total };
    });
}

/** Busy percentage of each core between two coreTimes() snapshots. */
export function coreBusy(before: ReturnType<typeof coreTimes>, after: ReturnType<typeof coreTimes>): number[] {
  return after.map((a, i) => {
    const b = before[i] ?? { busy: 0, total: 0 };
    const total = a.total - b.total;
    return total > 0 ? (100 * (a.busy - b.busy)) / total : 0;
  });
}

let tasksetPath: string | null | undefined;
export function hasTaskset(): boolean {
  if (tasksetPath === undefined) {
    try {
      tasksetPath = execFileSync("which", ["taskset"], { encoding: "utf8" }).trim() || null;
    } catch {
      tasksetPath = null;
    }
  }
  return tasksetPath !== null;
}

/** Pins every thread of a running process to `cpus` ("0", "1", "0-1"); new threads and forks inherit it. */
export function pin(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

/** Milliseconds of process CPU (user + nice + system) on the whole machine, from /proc/stat. */
export function machineCpuMs(): number {
  const v = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (((v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0)) * 1000) / CLK_TCK;
}

/** Milliseconds of CPU used by `root` and every live descendant, plus what they reaped. */
export function treeCpuMs(root: number): number {
  const procs = allProcs();
  const tree = [procs.find((p) => p.pid === root), ...descendants(root, procs)];
  return (tree.reduce((t, p) => t + (p ? p.cpuTicks + p.childCpuTicks : 0), 0) * 1000) / CLK_TCK;
}
