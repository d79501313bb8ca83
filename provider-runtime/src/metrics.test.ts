import { describe, expect, it } from "vitest";
import { SimMetrics } from "../sim/metrics";
import { loadFromMetrics, parsePrometheusText } from "./metrics";

describe("parsePrometheusText", () => {
  it("reads samples with labels, escapes, exponents, special values and timestamps; skips comments and junk", () => {
    const text = [
      "# HELP vllm:num_requests_running Number of requests.",
      "# TYPE vllm:num_requests_running gauge",
      'vllm:num_requests_running{model_name="a"} 3',
      'weird{path="/v1/x",note="a \\"quoted\\" {brace}, comma\\nnewline\\\\"} 1.5e3 1700000000000',
      "plain_total 42",
      "nan_gauge NaN",
      "inf_gauge +Inf",
      "broken{label=unquoted} 1",
      "no_value",
      "",
    ].join("\n");
    expect(parsePrometheusText(text)).toEqual([
      { name: "vllm:num_requests_running", labels: { model_name: "a" }, value: 3 },
      { name: "weird", labels: { path: "/v1/x", note: 'a "quoted" {brace}, comma\nnewline\\' }, value: 1500 },
      { name: "plain_total", labels: {}, value: 42 },
      { name: "nan_gauge", labels: {}, value: Number.NaN },
      { name: "inf_gauge", labels: {}, value: Infinity },
    ]);
  });
});

describe("loadFromMetrics", () => {
  it("reads vLLM's load gauges from the simulator's exposition", () => {
    const m = new SimMetrics({ model: "m", name: "sim", maxRunning: 4 });
    m.active = 6;
    m.generationTokens = 1234;
    expect(loadFromMetrics(m.render())).toEqual({ running: 4, waiting: 2, kv_cache_usage: 1, tokens_served: 1234 });
  });

  it("accepts newer vLLM's kv_cache_usage_perc, sums label sets, and reads an empty scrape as idle", () => {
    const text = [
      'vllm:kv_cache_usage_perc{model_name="m"} 0.25',
      'vllm:generation_tokens_total{model_name="m",engine="0"} 10',
      'vllm:generation_tokens_total{model_name="m",engine="1"} 5',
    ].join("\n");
    expect(loadFromMetrics(text)).toEqual({ running: 0, waiting: 0, kv_cache_usage: 0.25, tokens_served: 15 });
    expect(loadFromMetrics("")).toEqual({ running: 0, waiting: 0, kv_cache_usage: 0, tokens_served: 0 });
  });
});
