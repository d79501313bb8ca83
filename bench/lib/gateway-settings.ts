/** The gateway bench's settings: what it measures, how long, and against which engines and targets. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { EngineSpec } from "../../scripts/lib/network";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const WARMUP_SEC = Number(process.env.BENCH_WARMUP_SEC ?? 1);
export const DURATION_SEC = Number(process.env.BENCH_DURATION_SEC ?? 5);
export const CONCURRENCIES = [1, 32, 128];
/** Streaming: each target at concurrency 1 and 32 (the goals' two TTFT figures), `count` streams each. */
export const STREAM = {
  tokensPerSecond: 2000,
  maxTokens: 64,
  warmup: 10,
  runs: [
    { concurrency: 1, count: 50 },
    { concurrency: 32, count: 320 },
  ],
};
/** "Reads before the first upstream byte": streamed gateway requests one at a time (bench/lib/gateway-postgres.ts). */
export const FIRST_BYTE_PROBE = { warmup: 10, requests: Number(process.env.BENCH_PG_PROBE_REQUESTS ?? 100), gapMs: 20, settleMs: 1_500 };
export const NON_STREAM_MAX_TOKENS = 16;
export const DB_CORE = process.env.BENCH_DB_CORE === "1" ? "1" : "0";

export const ENGINES: EngineSpec[] = [
  { id: "bench", inputPrice: "0.10", outputPrice: "0.20", ttftMs: 0, tokensPerSecond: 0, embeddings: false },
  { id: "bench-stream", inputPrice: "0.10", outputPrice: "0.20", ttftMs: 0, tokensPerSecond: STREAM.tokensPerSecond, embeddings: false },
];

/** "portkey": Portkey's gateway (bench/lib/portkey.ts), measured when it starts; not in TARGETS. */
export type TargetName = "direct" | "bare proxy" | "gateway" | "gateway, admission off" | "portkey";
export const TARGETS: TargetName[] = ["direct", "bare proxy", "gateway", "gateway, admission off"];
export const isGateway = (t: TargetName) => t === "gateway" || t === "gateway, admission off";
