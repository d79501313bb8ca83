/** The gateway bench's report: markdown tables for stdout, the raw rows to artifacts/bench.json. */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { DevInfo } from "../../scripts/lib/network";
import type { NonStreamRow, Pids, StreamRow } from "./gateway-measure";
import { CONCURRENCIES, DURATION_SEC, ENGINES, NON_STREAM_MAX_TOKENS, ROOT, STREAM, WARMUP_SEC, type TargetName } from "./gateway-settings";
import { hotPathGoals } from "./gateway-goals";
import type { FirstByteProbe } from "./gateway-postgres";
import { goalsMarkdown, postgresMarkdown } from "./gateway-report-goals";
import { fmt, int, signed, table } from "./table";

export /** Writes artifacts/bench.json and returns the markdown. */
function report(r: {
  info: DevInfo;
  pinning: string;
  cores: number;
  nonStream: NonStreamRow[];
  streamRows: StreamRow[];
  memoryKb: Record<string, number>;
  runtimeSec: number;
  pids: Pids;
  firstByte: FirstByteProbe | null;
  statements: boolean;
  loadAvg: { atStart: number[]; atEnd: number[] };
  /** How Portkey was run, or why it was not measured (bench/lib/portkey.ts). */
  portkey: string;
}): string {
  const out: string[] = [];
  const cpu = os.cpus()[0]?.model ?? "unknown";
  out.push("# Meshgate gateway bench", "");
  out.push(
    `- node ${process.version}, ${os.platform()} ${os.release()}, ${r.cores} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  );
  out.push(`- CPU layout: ${r.pinning}`);
  const load = (l: number[]) => l.map((x) => fmt(x)).join(" / ");
  out.push(`- load average (1 / 5 / 15 min, \`uptime\`): ${load(r.loadAvg.atStart)} at the start, ${load(r.loadAvg.atEnd)} at the end`);
  out.push(
    `- non-streaming: POST /v1/chat/completions, max_tokens ${NON_STREAM_MAX_TOKENS}, engine ttft 0 ms and no token pacing; autocannon, ${WARMUP_SEC} s warm-up + ${DURATION_SEC} s per cell, 2xx latencies only`,
  );
  out.push(
    `- streaming: max_tokens ${STREAM.maxTokens}, engine at ${STREAM.tokensPerSecond} tokens/s; ${STREAM.runs.map((x) => `${x.count} streams at concurrency ${x.concurrency}`).join(", ")}; fetch + reader; TTFT = until the first \`data:\` chunk with content`,
  );
  out.push(
    `- gateway: auth (cached key), validation, routing, usage capture and batched metering to Postgres, all on; cron off, probe run before each gateway cell`,
  );
  out.push("");

  const cell = (c: number, t: TargetName) => r.nonStream.find((x) => x.concurrency === c && x.target === t)!;
  out.push("## Non-streaming", "");
  out.push(
    table(
      [
        "concurrency",
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "non-2xx/errors",
        "workerd CPU µs/req",
        "Postgres / wsproxy CPU µs/req",
        "Postgres conns per 1k req",
        "core0 / core1 busy",
        "other load",
      ],
      r.nonStream.map(({ concurrency, target, result, cpu: c }) => [
        concurrency,
        target,
        int(result.rps),
        fmt(result.latencyMs.p50),
        fmt(result.latencyMs.p99),
        `${result.non2xx}/${result.errors + result.timeouts}`,
        target === "gateway" ? int(c.gatewayUs) : target === "bare proxy" ? int(c.bareUs) : "—",
        target === "gateway" ? `${int(c.postgresUs)} / ${int(c.wsproxyUs)}` : "—",
        target === "gateway" ? int(c.pgSessionsPer1k) : "—",
        c.coreBusyPct
          .slice(0, 2)
          .map((p) => `${Math.round(p)}%`)
          .join(" / "),
        `${Math.round(c.otherLoadPct)}%`,
      ]),
    ),
  );
  out.push(
    "",
    "workerd CPU: the proxy's workerd process only. Postgres / wsproxy: the gateway's usage writes and cache refreshes (Postgres backends included). " +
      "Other load: CPU used meanwhile by processes this bench did not start, in % of one core (noise).",
    "",
  );
  out.push("Gateway's added latency (difference of the percentiles) and throughput:", "");
  out.push(
    table(
      [
        "concurrency",
        "added p50 vs direct",
        "added p99 vs direct",
        "added p50 vs bare proxy",
        "added p99 vs bare proxy",
        "gateway req/s",
        "% of direct",
        "% of bare proxy",
      ],
      CONCURRENCIES.map((c) => {
        const d = cell(c, "direct").result,
          b = cell(c, "bare proxy").result,
          g = cell(c, "gateway").result;
        return [
          c,
          `${signed(g.latencyMs.p50 - d.latencyMs.p50)} ms`,
          `${signed(g.latencyMs.p99 - d.latencyMs.p99)} ms`,
          `${signed(g.latencyMs.p50 - b.latencyMs.p50)} ms`,
          `${signed(g.latencyMs.p99 - b.latencyMs.p99)} ms`,
          int(g.rps),
          `${Math.round((100 * g.rps) / d.rps)}%`,
          `${Math.round((100 * g.rps) / b.rps)}%`,
        ];
      }),
    ),
  );
  out.push("");

  const srow = (t: TargetName, mode: string) => r.streamRows.find((x) => x.target === t && x.mode === mode)!;
  out.push("## Streaming", "");
  out.push(
    table(
      [
        "mode",
        "target",
        "streams",
        "TTFT p50 ms",
        "TTFT p99 ms",
        "added TTFT p50",
        "added TTFT p99",
        "tokens/s per stream p50",
        "stream total p50 ms",
        "other load",
      ],
      r.streamRows.map((s) => {
        const d = srow("direct", s.mode);
        const self = s.target === "direct";
        return [
          s.mode,
          s.target,
          s.streams,
          fmt(s.ttftMs.p50),
          fmt(s.ttftMs.p99),
          self ? "—" : `${signed(s.ttftMs.p50 - d.ttftMs.p50)} ms`,
          self ? "—" : `${signed(s.ttftMs.p99 - d.ttftMs.p99)} ms`,
          int(s.tokensPerSec.p50),
          fmt(s.totalMs.p50),
          `${Math.round(s.otherLoadPct)}%`,
        ];
      }),
    ),
  );
  out.push("");

  const mb = (kb: number) => `${fmt(kb / 1024, 1)} MiB`;
  out.push("## Memory (workerd RSS, sampled every 100 ms over the whole run)", "");
  out.push(
    table(
      ["process", "peak RSS (sampled)", "VmHWM", "RSS at end"],
      [
        ["gateway workerd", mb(r.memoryKb.gatewayPeakRss!), mb(r.memoryKb.gatewayHwm!), mb(r.memoryKb.gatewayEnd!)],
        ["bare proxy workerd", mb(r.memoryKb.barePeakRss!), mb(r.memoryKb.bareHwm!), "—"],
      ],
    ),
  );
  out.push("");

  const noisiest = Math.max(...r.nonStream.map((x) => x.cpu.otherLoadPct), ...r.streamRows.map((x) => x.otherLoadPct));
  if (noisiest > 10) {
    out.push(
      `**Warning:** other processes on this machine used up to ${Math.round(noisiest)}% of a core during a measurement ` +
        '(see "other load"): latencies and throughput are disturbed; rerun on a quiet machine for numbers to compare.',
      "",
    );
  }
  out.push(...postgresMarkdown(r));
  out.push(...goalsMarkdown(r));
  out.push(`Start-up and measurements: ${fmt(r.runtimeSec, 1)} s. JSON: artifacts/bench.json`);
  mkdirSync(path.join(ROOT, "artifacts"), { recursive: true });
  writeFileSync(
    path.join(ROOT, "artifacts/bench.json"),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        environment: {
          node: process.version,
          platform: `${os.platform()} ${os.release()}`,
          cores: r.cores,
          cpu: os.cpus()[0]?.model,
          pinning: r.pinning,
        },
        settings: {
          warmupSec: WARMUP_SEC,
          durationSec: DURATION_SEC,
          concurrencies: CONCURRENCIES,
          nonStreamMaxTokens: NON_STREAM_MAX_TOKENS,
          stream: STREAM,
          engines: ENGINES,
        },
        nonStreaming: r.nonStream,
        streaming: r.streamRows,
        memoryKb: r.memoryKb,
        postgres: { statementsCounted: r.statements, firstByte: r.firstByte },
        goals: hotPathGoals(r),
        loadAverage: r.loadAvg,
        portkey: r.portkey,
        runtimeSec: r.runtimeSec,
      },
      null,
      2,
    ),
  );
  return out.join("\n");
}
