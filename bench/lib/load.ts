/** The two load generators: autocannon for request/response, fetch + a reader for streams. */
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";

export interface Percentiles {
  p50: number;
  p99: number;
  mean: number;
  n: number;
}

/** Nearest-rank percentiles of a sample, in its own unit. */
export function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), n: s.length };
}

export interface Target {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface CannonResult {
  rps: number;
  latencyMs: Percentiles;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSec: number;
}

/**
 * A fixed-duration autocannon run, optionally with headers computed for each request. Latencies come from autocannon's per-response event, which has
 * sub-millisecond precision (its own histogram rounds to whole milliseconds); only 2xx count.
 */
export async function cannon(
  t: Target,
  connections: number,
  durationSec: number,
  perRequestHeaders?: () => Record<string, string>,
): Promise<CannonResult> {
  const latencies: number[] = [];
  // Per-request headers (a signature over a fresh request id) go through setupRequest.
  const requests = perRequestHeaders
    ? [{ setupRequest: (req: { headers?: Record<string, string> }) => ({ ...req, headers: { ...t.headers, ...perRequestHeaders() } }) }]
    : undefined;
  const inst = autocannon({
    url: t.url,
    method: "POST",
    headers: t.headers,
    body: t.body,
    connections,
    pipelining: 1,
    duration: durationSec,
    timeout: 10,
    requests,
  });
  inst.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const r = await inst;
  return {
    rps: latencies.length / r.duration,
    latencyMs: percentiles(latencies),
    ok: latencies.length,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationSec: r.duration,
  };
}

export interface StreamSample {
  ttftMs: number;
  tokens: number;
  tokensPerSec: number;
  totalMs: number;
}

/** One streamed chat completion; TTFT is the time to the first `data:` chunk carrying content. */
export async function oneStream(t: Target): Promise<StreamSample> {
  const started = performance.now();
  const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
  if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "",
    first = 0,
    last = 0,
    tokens = 0,
    done = false;
  while (!done) {
    const r = await reader.read();
    if (r.done) break;
    const now = performance.now();
    buf += decoder.decode(r.value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") {
        done = true;
        break;
      }
      const json = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[]; error?: unknown };
      if (json.error) throw new Error(`stream error: ${JSON.stringify(json.error)}`);
      const content = json.choices?.[0]?.delta?.content;
      if (typeof content === "string" && content.length > 0) {
        if (tokens === 0) first = now;
        last = now;
        tokens++;
      }
    }
  }
  if (!done) await reader.cancel().catch(() => undefined);
  if (tokens === 0) throw new Error("stream ended without content");
  const genMs = last - first;
  return {
    ttftMs: first - started,
    tokens,
    tokensPerSec: genMs > 0 ? ((tokens - 1) * 1000) / genMs : Number.NaN,
    totalMs: performance.now() - started,
  };
}

/** `count` streams, at most `concurrency` at a time. */
export async function streams(t: Target, count: number, concurrency: number): Promise<StreamSample[]> {
  const out: StreamSample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        out.push(await oneStream(t));
      }
    }),
  );
  return out;
}
