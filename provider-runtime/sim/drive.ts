import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { SimMetrics } from "./metrics";
import type { SimMode } from "./modes";
import type { FinishReason, PlannedChoice } from "./text";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Where generated tokens go: an SSE stream or one JSON body. The driver owns timing, faults and metrics. */
export interface GenerationSink {
  /** Before the first token: a stream sends its headers. */
  open(): Promise<void>;
  /** The first output after TTFT (a chat stream's role chunks). */
  begin(): Promise<void>;
  token(choice: number, text: string): Promise<void>;
  /** The malformed_chunk fault. */
  malformed(): Promise<void>;
  end(finishReasons: FinishReason[], usage: Usage): Promise<void>;
}

export interface DriveArgs {
  plan: PlannedChoice[];
  promptTokens: number;
  mode: SimMode;
  timing: { ttftMs: number; tokensPerSecond: number };
  sink: GenerationSink;
  metrics: SimMetrics;
  /** Aborts when the client goes away or the engine closes: generation stops at once. */
  signal: AbortSignal;
  /** The drop_after_n fault: destroy the connection. */
  drop: () => void;
}

/**
 * Emit a planned generation, choices interleaved step by step as a batched engine would, paced by TTFT
 * and tokens per second, with the current fault mode applied at its chunk count. Only tokens actually
 * produced before an abort are counted in `vllm:generation_tokens_total`.
 */
export async function driveGeneration(args: DriveArgs): Promise<void> {
  const { plan, mode, sink, metrics, signal } = args;
  const schedule = new Schedule(args.timing.ttftMs, intervalMs(args.timing, mode));
  const faultAfter = "n" in mode ? mode.n : null;
  let contentChunks = 0;
  let faulted = faultAfter === null;

  // The fault fires after `n` content chunks, or at the end of the content if there were fewer.
  const fault = async (atEnd: boolean): Promise<"dropped" | "go"> => {
    if (faulted || (!atEnd && contentChunks < (faultAfter ?? 0))) return "go";
    faulted = true;
    if (mode.mode === "drop_after_n") {
      args.drop();
      return "dropped";
    }
    if (mode.mode === "stall_after_n") await schedule.pause(mode.ms, signal);
    if (mode.mode === "malformed_chunk") await sink.malformed();
    return "go";
  };

  metrics.active++;
  metrics.promptTokens += args.promptTokens;
  try {
    await sink.open();
    if ((await fault(false)) === "dropped") return;
    await schedule.at(0, signal);
    await sink.begin();
    const steps = Math.max(0, ...plan.map((c) => c.tokens.length));
    for (let step = 0; step < steps; step++) {
      if (step > 0) await schedule.at(step, signal);
      for (const [choice, planned] of plan.entries()) {
        const token = planned.tokens[step];
        if (token === undefined) continue;
        await sink.token(choice, token);
        metrics.generationTokens++;
        contentChunks++;
        if ((await fault(false)) === "dropped") return;
      }
    }
    if ((await fault(true)) === "dropped") return;
    const completionTokens = plan.reduce((sum, c) => sum + c.tokens.length, 0);
    await sink.end(
      plan.map((c) => c.finishReason),
      reportedUsage(args.promptTokens, completionTokens, mode),
    );
    metrics.succeed(plan[0]?.finishReason ?? "stop");
  } finally {
    metrics.active--;
  }
}

/** Usage as reported to the client; usage_scale distorts it (metrics keep the true counts). */
export function reportedUsage(promptTokens: number, completionTokens: number, mode: SimMode): Usage {
  const factor = mode.mode === "usage_scale" ? mode.factor : 1;
  const prompt = Math.round(promptTokens * factor);
  const completion = Math.round(completionTokens * factor);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function intervalMs(timing: DriveArgs["timing"], mode: SimMode): number {
  if (mode.mode === "trickle") return mode.interval_ms;
  return timing.tokensPerSecond > 0 ? 1000 / timing.tokensPerSecond : 0;
}

/** Token i is due at start + TTFT + i × interval (plus any stall): absolute times, so pacing does not drift. */
class Schedule {
  private readonly startMs = performance.now();
  private shiftMs = 0;

  constructor(
    private readonly firstMs: number,
    private readonly stepMs: number,
  ) {}

  async at(step: number, signal: AbortSignal): Promise<void> {
    const waitMs = this.startMs + this.shiftMs + this.firstMs + step * this.stepMs - performance.now();
    if (waitMs >= 1) await sleep(waitMs, undefined, { signal });
    else signal.throwIfAborted();
  }

  async pause(ms: number, signal: AbortSignal): Promise<void> {
    const before = performance.now();
    await sleep(ms, undefined, { signal });
    this.shiftMs += performance.now() - before;
  }
}
