/**
 * Issue 13's goal table for the gateway bench: each goal's figure for the gateway beside the bare
 * proxy's (the floor) from the same run, and whether it is met. Pure: rows in, rows out.
 */
import type { NonStreamRow, StreamRow } from "./gateway-measure";
import type { FirstByteProbe } from "./gateway-postgres";
import type { TargetName } from "./gateway-settings";
import { fmt, int, signed } from "./table";

export interface Goal {
  goal: string;
  target: string;
  gateway: string;
  floor: string;
  admissionOff: string;
  /** The figure the verdict is about. */
  judged: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(100 * x)} %` : "n/a");
const ms = (x: number) => `${signed(x)} ms`;
const judge = (x: number, ok: (x: number) => boolean) => (Number.isFinite(x) ? ok(x) : null);

export const streamMode = (concurrency: number) => `concurrency ${concurrency}`;

export function hotPathGoals(r: { nonStream: NonStreamRow[]; streamRows: StreamRow[]; firstByte: FirstByteProbe | null }): Goal[] {
  const cell = (c: number, t: TargetName) => r.nonStream.find((x) => x.concurrency === c && x.target === t);
  const srow = (c: number, t: TargetName) => r.streamRows.find((x) => x.mode === streamMode(c) && x.target === t);
  const rps = (t: TargetName) => cell(32, t)?.result.rps ?? Number.NaN;
  const p50 = (t: TargetName) => cell(1, t)?.result.latencyMs.p50 ?? Number.NaN;
  const ttft = (c: number, t: TargetName) => srow(c, t)?.ttftMs.p50 ?? Number.NaN;
  const goals: Goal[] = [];

  const share = rps("gateway") / rps("bare proxy");
  const offShare = rps("gateway, admission off") / rps("bare proxy");
  goals.push({
    goal: "req/s at concurrency 32, share of the floor",
    target: "≥ 80 %",
    gateway: `${pct(share)} (${int(rps("gateway"))} req/s)`,
    floor: `100 % (${int(rps("bare proxy"))} req/s)`,
    admissionOff: `${pct(offShare)} (${int(rps("gateway, admission off"))} req/s)`,
    judged: pct(share),
    met: judge(share, (x) => x >= 0.8),
  });

  // Issue 13: "≥ 2× Portkey's share", Portkey's gateway measured like the floor in the same run.
  const portkeyShare = rps("portkey") / rps("bare proxy");
  const times = (x: number) => (Number.isFinite(x) ? `${fmt(x)}×` : "n/a");
  goals.push({
    goal: "req/s at concurrency 32: share of the floor against Portkey's share (Portkey's gateway, Node)",
    target: "≥ 2× Portkey's share",
    gateway: `${pct(share)} (${times(share / portkeyShare)} Portkey's)`,
    floor: `Portkey: ${pct(portkeyShare)} (${int(rps("portkey"))} req/s)`,
    admissionOff: `${pct(offShare)} (${times(offShare / portkeyShare)} Portkey's)`,
    judged: times(share / portkeyShare),
    met: judge(share / portkeyShare, (x) => x >= 2),
  });

  const added = (t: TargetName) => p50(t) - p50("direct");
  goals.push({
    goal: "added p50 at concurrency 1 (over the engine directly)",
    target: "≤ 1 ms over the floor's",
    gateway: ms(added("gateway")),
    floor: ms(added("bare proxy")),
    admissionOff: ms(added("gateway, admission off")),
    judged: ms(added("gateway") - added("bare proxy")),
    met: judge(added("gateway") - added("bare proxy"), (x) => x <= 1),
  });

  for (const [c, limit] of [
    [1, 2],
    [32, 10],
  ] as const) {
    const addedTtft = (t: TargetName) => ttft(c, t) - ttft(c, "direct");
    const judged = addedTtft("gateway") - addedTtft("bare proxy");
    goals.push({
      goal: `added TTFT p50, streaming, concurrency ${c}`,
      target: `≤ ${limit} ms over the floor's`,
      gateway: ms(addedTtft("gateway")),
      floor: ms(addedTtft("bare proxy")),
      admissionOff: ms(addedTtft("gateway, admission off")),
      judged: ms(judged),
      met: judge(judged, (x) => x <= limit),
    });
  }

  const g32 = cell(32, "gateway")?.cpu.gatewayUs ?? Number.NaN;
  const b32 = cell(32, "bare proxy")?.cpu.bareUs ?? Number.NaN;
  goals.push({
    goal: "workerd CPU per non-streamed request (concurrency 32)",
    target: "≤ 1.5× the floor's",
    gateway: `${int(g32)} µs`,
    floor: `${int(b32)} µs`,
    admissionOff: "—",
    judged: `${fmt(g32 / b32)}×`,
    met: judge(g32 / b32, (x) => x <= 1.5),
  });

  const per10 = (t: TargetName) => {
    const c = cell(32, t);
    return c?.pg && c.result.ok > 0 ? (10 * c.pg.writes) / c.result.ok : Number.NaN;
  };
  goals.push({
    goal: "Postgres write statements per 10 requests (non-streaming, concurrency 32)",
    target: "≤ 1",
    gateway: fmt(per10("gateway")),
    floor: "— (no database)",
    admissionOff: fmt(per10("gateway, admission off")),
    judged: fmt(per10("gateway")),
    met: judge(per10("gateway"), (x) => x <= 1),
  });

  const fb = r.firstByte;
  const reads = fb && fb.requests > 0 ? fb.readsBeforeFirstByte / fb.requests : Number.NaN;
  const recurring = fb && fb.requests > 0 ? fb.recurringReadsBeforeFirstByte / fb.requests : Number.NaN;
  goals.push({
    goal: `Postgres reads before the first upstream byte, per request (streamed, one at a time${fb ? `, ${fb.requests} requests` : ""})`,
    target: "0",
    gateway: `${fmt(reads, 3)} (${fmt(recurring, 3)} recurring, ${fmt(reads - recurring, 3)} occasional)`,
    floor: "— (no database)",
    admissionOff: "—",
    judged: fmt(reads, 3),
    met: judge(reads, (x) => x === 0),
  });
  return goals;
}

export const verdict = (met: boolean | null) => (met === null ? "not measured" : met ? "met" : "**not met**");
