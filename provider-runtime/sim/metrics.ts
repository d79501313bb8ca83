import type { FinishReason } from "./text";

export const INFERENCE_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"] as const;
export type InferencePath = (typeof INFERENCE_PATHS)[number];

export interface SimMetricsLabels {
  /** The engine's served model: every vLLM series is labelled with it, embeddings included. */
  model: string;
  name: string;
  maxRunning: number;
}

/**
 * The engine's counters, exposed with vLLM's metric names so the provider agent reads the simulator the
 * way it reads real vLLM, plus `meshgate_sim_requests_total`, which counts every inference request that
 * arrived — faulted, refused and invalid ones (a GET included) — so outside tests can check what reached the engine.
 */
export class SimMetrics {
  /** Inference requests admitted and not yet finished. */
  active = 0;
  promptTokens = 0;
  generationTokens = 0;
  private readonly success = new Map<FinishReason, number>([
    ["stop", 0],
    ["length", 0],
  ]);
  private readonly received = new Map<InferencePath, number>(INFERENCE_PATHS.map((p) => [p, 0]));

  constructor(private readonly labels: SimMetricsLabels) {}

  receive(path: InferencePath): void {
    this.received.set(path, (this.received.get(path) ?? 0) + 1);
  }

  succeed(reason: FinishReason): void {
    this.success.set(reason, (this.success.get(reason) ?? 0) + 1);
  }

  /** Requests beyond maxRunning show as waiting, as vLLM's scheduler would queue them; all are served. */
  get running(): number {
    return Math.min(this.active, this.labels.maxRunning);
  }

  get waiting(): number {
    return Math.max(0, this.active - this.labels.maxRunning);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const model = `model_name="${escapeLabel(this.labels.model)}"`;
    const lines: string[] = [];
    const family = (name: string, type: "gauge" | "counter", help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}{${labels}} ${value}`);
    };
    family("meshgate_sim_info", "gauge", "Meshgate simulated engine (test/demo only, not a real model).", [
      [`name="${escapeLabel(this.labels.name)}",${model}`, 1],
    ]);
    family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", [[model, this.running]]);
    family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", [[model, this.waiting]]);
    family("vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.", [
      [model, Math.min(1, this.running / Math.max(1, this.labels.maxRunning))],
    ]);
    family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", [[model, this.promptTokens]]);
    family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", [[model, this.generationTokens]]);
    family("vllm:request_success_total", "counter", "Count of successfully processed requests.", [
      ...[...this.success].map(([reason, count]): [string, number] => [`finished_reason="${reason}",${model}`, count]),
    ]);
    family("meshgate_sim_requests_total", "counter", "Inference requests received by the simulator, faulted ones included.", [
      ...[...this.received].map(([path, count]): [string, number] => [`path="${path}"`, count]),
    ]);
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
