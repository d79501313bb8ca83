/**
 * The engine's load, read from its Prometheus /metrics (vLLM's names; the simulator uses the same),
 * with a minimal parser of the text exposition format 0.0.4: samples only, comments skipped,
 * label values unescaped. No parser package is installed, and this is all the agent needs.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples in order; malformed lines are skipped rather than failing the whole scrape. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sample = parseSampleLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseSampleLine(line: string): Sample | null {
  const name = NAME.exec(line)?.[0];
  if (!name) return null;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith("}")) {
        rest = rest.slice(1);
        break;
      }
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) return null;
      rest = rest.slice(label.length).trimStart();
      if (!rest.startsWith('="')) return null;
      rest = rest.slice(2);
      let value = "";
      let i = 0;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === "\\" && i + 1 < rest.length) {
          const next = rest[++i];
          value += next === "n" ? "\n" : next;
        } else value += rest[i];
      }
      if (i >= rest.length) return null;
      labels[label] = value;
      rest = rest.slice(i + 1).trimStart();
      if (rest.startsWith(",")) rest = rest.slice(1);
    }
  }
  const fields = rest.trim().split(/\s+/);
  const valueText = fields[0];
  if (!valueText) return null;
  const value = parseValue(valueText);
  return Number.isNaN(value) && valueText !== "NaN" ? null : { name, labels, value };
}

function parseValue(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

export interface EngineLoad {
  running: number;
  waiting: number;
  /** 0..1 */
  kv_cache_usage: number;
  /** Generation tokens the engine produced since it started. */
  tokens_served: number;
}

/** Sums a family over its label sets (vLLM labels every series by model; one engine, one model). */
function sum(samples: Sample[], ...names: string[]): number | undefined {
  for (const name of names) {
    const values = samples.filter((s) => s.name === name && Number.isFinite(s.value)).map((s) => s.value);
    if (values.length > 0) return values.reduce((a, b) => a + b, 0);
  }
  return undefined;
}

/** The heartbeat's load from a scrape; newer vLLM renamed the KV-cache gauge, so both names are read. */
export function loadFromMetrics(text: string): EngineLoad {
  const samples = parsePrometheusText(text);
  const count = (v: number | undefined) => Math.max(0, Math.round(v ?? 0));
  const kv = sum(samples, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc") ?? 0;
  return {
    running: count(sum(samples, "vllm:num_requests_running")),
    waiting: count(sum(samples, "vllm:num_requests_waiting")),
    kv_cache_usage: Math.min(1, Math.max(0, kv)),
    tokens_served: count(sum(samples, "vllm:generation_tokens_total")),
  };
}
