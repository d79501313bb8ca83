/**
 * The inference engine beside the agent: real vLLM at --engine-url, or the simulated engine started
 * in-process (--engine sim, test/demo only). The agent waits for it to be healthy and to list the
 * configured model before it registers, and reaches it over one keep-alive connection pool.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { AgentConfig } from "./config";
import { FatalError } from "./errors";

export interface Engine {
  /** Base URL without /v1. */
  url: string;
  metricsUrl: string;
  /** The simulator's control endpoint; only with --engine sim. */
  controlUrl?: string;
  /** Keep-alive pool for forwarded requests. */
  agent: HttpAgent;
  close(): Promise<void>;
}

export async function startEngine(cfg: Pick<AgentConfig, "engine" | "model" | "contextLength">): Promise<Engine> {
  if (cfg.engine.kind === "vllm") return engineAt(cfg.engine.url, async () => {});
  const { startSimEngine } = await import("../sim/engine");
  const sim = await startSimEngine({
    port: 0,
    model: cfg.model,
    ttftMs: cfg.engine.ttftMs,
    tokensPerSecond: cfg.engine.tokensPerSecond,
    ...(cfg.engine.embeddingModel ? { embeddingModel: cfg.engine.embeddingModel } : {}),
    ...(cfg.contextLength ? { contextLength: cfg.contextLength } : {}),
    name: "agent-sim",
  });
  return { ...engineAt(sim.url, () => sim.close()), controlUrl: sim.controlUrl };
}

function engineAt(url: string, closeEngine: () => Promise<void>): Engine {
  const options = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets: Infinity, maxFreeSockets: 256, scheduling: "lifo" as const };
  const agent = url.startsWith("https:") ? new HttpsAgent(options) : new HttpAgent(options);
  return {
    url,
    metricsUrl: `${url}/metrics`,
    agent,
    close: async () => {
      agent.destroy();
      await closeEngine();
    },
  };
}

export interface EngineModel {
  id: string;
  /** vLLM's max_model_len, when it reports one. */
  maxModelLen: number | null;
}

/**
 * Polls /health, then /v1/models, until the engine lists every model in `models` (vLLM answers
 * /v1/models only once a model is loaded, which can take minutes). An engine that is up but serves
 * other models will not change its mind: FatalError.
 */
export async function waitForEngine(
  url: string,
  models: string[],
  opts: { signal: AbortSignal; log: (line: string) => void; pollMs?: number },
): Promise<EngineModel[]> {
  const pollMs = opts.pollMs ?? 250;
  let lastLogMs = 0;
  const waiting = (what: string) => {
    if (Date.now() - lastLogMs < 10_000) return;
    lastLogMs = Date.now();
    opts.log(`waiting for the engine at ${url} (${what})`);
  };
  for (;;) {
    opts.signal.throwIfAborted();
    const listed = await listModels(url, opts.signal).catch((err: unknown) => {
      opts.signal.throwIfAborted();
      waiting(err instanceof Error ? err.message : String(err));
      return null;
    });
    if (listed) {
      const missing = models.filter((m) => !listed.some((l) => l.id === m));
      if (missing.length === 0) return listed;
      if (listed.length > 0)
        throw new FatalError(`the engine at ${url} serves ${listed.map((l) => l.id).join(", ")}, not ${missing.join(", ")}`);
      waiting("no model loaded yet");
    }
    await sleep(pollMs, undefined, { signal: opts.signal });
  }
}

async function listModels(url: string, signal: AbortSignal): Promise<EngineModel[]> {
  const health = await fetch(`${url}/health`, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) });
  await health.body?.cancel();
  if (!health.ok) throw new Error(`/health answered ${health.status}`);
  const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`/v1/models answered ${res.status}`);
  }
  const body = (await res.json()) as { data?: { id?: unknown; max_model_len?: unknown }[] };
  return (body.data ?? [])
    .filter((m): m is { id: string; max_model_len?: unknown } => typeof m?.id === "string")
    .map((m) => ({ id: m.id, maxModelLen: typeof m.max_model_len === "number" && m.max_model_len > 0 ? m.max_model_len : null }));
}

/** The engine's load counters as Prometheus text. */
export async function scrapeMetrics(metricsUrl: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(metricsUrl, {
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(3_000)]) : AbortSignal.timeout(3_000),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${metricsUrl} answered ${res.status}`);
  }
  return res.text();
}

/**
 * The prompt's token count from vLLM's /tokenize, for a stream cut before its usage chunk arrived.
 * Best effort and off the hot path: null when the engine cannot tokenize the request.
 */
export async function countPromptTokens(url: string, path: string, body: Record<string, unknown>): Promise<number | null> {
  const input =
    path === "/v1/chat/completions"
      ? { model: body.model, messages: body.messages }
      : { model: body.model, prompt: body.prompt ?? body.input };
  try {
    const res = await fetch(`${url}/tokenize`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(input),
      signal: AbortSignal.timeout(3_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    const json = (await res.json()) as { count?: unknown };
    return typeof json.count === "number" && Number.isInteger(json.count) && json.count >= 0 ? json.count : null;
  } catch {
    return null;
  }
}
