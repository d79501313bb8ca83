/**
 * Registration: learn the gateway's identity, then announce this provider (URL, models, prices,
 * GPU) signed with its wallet. Both retry with backoff until the gateway answers; a considered
 * refusal (a 4xx with an OpenAI error body that retrying will not change) is fatal.
 */
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { RegisterPayload } from "../../workers/core/protocol/provider-messages";
import type { AgentConfig } from "./config";
import type { EngineModel } from "./engine";
import { describe, FatalError } from "./errors";
import { backoffMs, fetchGatewayIdentity, GatewayReply, postSigned, type GatewayIdentity, type SignedPost } from "./gateway-client";

type Log = (line: string) => void;

/** 404 (route not deployed yet), 408, 425 and 429 may change; any other 4xx with an OpenAI body will not. */
const TRANSIENT_4XX = new Set([404, 408, 425, 429]);

export function isPermanentRefusal(err: unknown): err is GatewayReply {
  if (!(err instanceof GatewayReply) || err.status < 400 || err.status >= 500 || TRANSIENT_4XX.has(err.status) || !err.isOpenAiError)
    return false;
  // A conflict over the message's timestamp (a newer one was accepted) passes once re-signed later.
  return !(err.status === 409 && err.param === "payload.timestamp");
}

/** GET /providers/v1/gateway until it answers; a chain other than ours is fatal (receipts would not verify). */
export async function awaitGatewayIdentity(
  cfg: Pick<AgentConfig, "gatewayUrl" | "chainId">,
  signal: AbortSignal,
  log: Log,
): Promise<GatewayIdentity> {
  for (let attempt = 0; ; attempt++) {
    try {
      const identity = await fetchGatewayIdentity(cfg.gatewayUrl, signal);
      if (identity.chain_id !== cfg.chainId) {
        throw new FatalError(`the gateway at ${cfg.gatewayUrl} is on chain ${identity.chain_id}, this agent on --chain-id ${cfg.chainId}`);
      }
      return identity;
    } catch (err) {
      if (err instanceof FatalError || signal.aborted) throw err;
      if (attempt % 10 === 0) log(`gateway identity not available yet (${describe(err)}); retrying`);
    }
    await sleep(backoffMs(attempt), undefined, { signal });
  }
}

export interface Offer {
  engineModels: EngineModel[];
  gpu: Record<string, unknown> | null;
  publicUrl: string;
}

/** The register payload; the embedding model of --engine sim is offered for embeddings only. */
export function buildRegisterPayload(cfg: AgentConfig, offer: Offer, timestamp: number): RegisterPayload {
  const contextLength = (model: string) => cfg.contextLength ?? offer.engineModels.find((m) => m.id === model)?.maxModelLen ?? 8192;
  const models: RegisterPayload["models"] = [
    {
      model: cfg.model,
      endpoints: cfg.endpoints,
      input_price: cfg.priceIn,
      output_price: cfg.priceOut,
      context_length: contextLength(cfg.model),
    },
  ];
  if (cfg.engine.kind === "sim" && cfg.engine.embeddingModel) {
    const model = cfg.engine.embeddingModel;
    models.push({
      model,
      endpoints: ["embeddings"],
      input_price: cfg.priceIn,
      output_price: cfg.priceOut,
      context_length: contextLength(model),
    });
  }
  return {
    id: cfg.providerId,
    address: cfg.account.address,
    url: offer.publicUrl,
    region: cfg.region,
    gpu: offer.gpu,
    max_concurrency: cfg.maxConcurrency,
    models,
    timestamp,
  };
}

/** POST /providers/v1/register until 2xx, re-signing each attempt with a fresh timestamp. */
export async function registerUntilAccepted(
  cfg: AgentConfig,
  offer: Offer,
  post: SignedPost,
  nextTimestamp: () => number,
  log: Log,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await postSigned(post, "/providers/v1/register", "register", buildRegisterPayload(cfg, offer, nextTimestamp()));
      return;
    } catch (err) {
      if (isPermanentRefusal(err)) throw new FatalError(`registration refused: ${err.message}`);
      if (post.signal?.aborted) throw err;
      if (attempt % 10 === 0) log(`registration not accepted yet (${describe(err)}); retrying`);
    }
    await sleep(backoffMs(attempt), undefined, { signal: post.signal });
  }
}

/**
 * GPU facts from nvidia-smi when it is installed; `{ present: false }` otherwise (the simulator,
 * a machine without a driver).
 */
export function readGpuFacts(): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    execFile(
      "nvidia-smi",
      ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
      { timeout: 5_000 },
      (err, stdout) => {
        if (err) return resolve({ present: false });
        resolve(parseNvidiaSmi(stdout));
      },
    );
  });
}

/** `NVIDIA A100-SXM4-80GB, 81920, 535.104.05` per line (memory in MiB with nounits). */
export function parseNvidiaSmi(stdout: string): Record<string, unknown> {
  const devices = stdout
    .split("\n")
    .map((line) => line.split(",").map((f) => f.trim()))
    .filter((f) => f.length >= 3 && f[0])
    .map(([name, memory, driver]) => ({ name: name!, memory_mib: Number.parseInt(memory!, 10) || null, driver_version: driver! }));
  if (devices.length === 0) return { present: false };
  return { present: true, count: devices.length, name: devices[0]!.name, driver_version: devices[0]!.driver_version, devices };
}
