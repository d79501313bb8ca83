import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { z } from "zod";
import { SimMetrics } from "./metrics";
import { createModeSwitch, type ModeSwitch, type SimModeInput } from "./modes";
import { CONTROL_PATH, createSimHandler } from "./server-routes";

/**
 * The simulated engine: a test/demo stand-in for vLLM's OpenAI server with deterministic output,
 * configurable speed and run-time faults. It says what it is (`owned_by: "meshgate-simulator"`, the
 * `x-meshgate-simulator: 1` header, `meshgate_sim_info` in /metrics); production runs real vLLM.
 */
export const SimEngineOptions = z.strictObject({
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(0),
  host: z.string().min(1).default("127.0.0.1"),
  /** The chat/completions model id, e.g. "meshgate/sim-llama-8b". */
  model: z.string().min(1),
  /** Served on /v1/embeddings when set, e.g. "meshgate/sim-embed". */
  embeddingModel: z.string().min(1).optional(),
  ttftMs: z.number().min(0).max(600_000).default(20),
  /** 0 means no delay between tokens. */
  tokensPerSecond: z.number().min(0).default(200),
  /** Requests beyond this show as waiting in /metrics; all are still served. */
  maxRunning: z.number().int().min(1).default(64),
  contextLength: z.number().int().min(2).default(8192),
  /** A label, shown in /metrics. */
  name: z.string().min(1).default("sim"),
});
/** What callers pass: every option with a default may be left out. */
export type SimEngineOptions = z.input<typeof SimEngineOptions>;
/** The options after defaults. */
export type SimEngineConfig = z.output<typeof SimEngineOptions>;

export interface SimEngine {
  /** http://127.0.0.1:PORT (no /v1). */
  url: string;
  controlUrl: string;
  metricsUrl: string;
  port: number;
  /** The same as POST {controlUrl}; throws a ZodError on an invalid mode. */
  setMode(mode: SimModeInput): void;
  /** Stops listening and destroys open connections, so it never waits on a stalled stream. */
  close(): Promise<void>;
}

/** What the request handlers share for the engine's lifetime. */
export interface SimContext {
  config: SimEngineConfig;
  modes: ModeSwitch;
  metrics: SimMetrics;
  startedAtSec: number;
}

export async function startSimEngine(opts: SimEngineOptions): Promise<SimEngine> {
  const config = SimEngineOptions.parse(opts);
  const ctx: SimContext = {
    config,
    modes: createModeSwitch(),
    metrics: new SimMetrics({ model: config.model, name: config.name, maxRunning: config.maxRunning }),
    startedAtSec: Math.floor(Date.now() / 1000),
  };
  const server = createServer(createSimHandler(ctx));
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(config.host)}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    controlUrl: `${url}${CONTROL_PATH}`,
    metricsUrl: `${url}/metrics`,
    port,
    setMode: (mode) => void ctx.modes.set(mode),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Destroying sockets closes responses, which aborts any generation or stall still running.
        for (const socket of sockets) socket.destroy();
      })),
  };
}

/** A wildcard bind is reached through loopback; IPv6 literals need brackets in a URL. */
function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
