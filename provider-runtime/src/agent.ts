/**
 * The agent's lifecycle: engine up → gateway identity → stake (if asked) → serve (the gateway's
 * registration challenge included) → register →
 * heartbeats and receipt batches; and the graceful way down (503 to new requests, in-flight ones finish, a final
 * draining heartbeat, one last outbox flush). main.ts adds the CLI, signals and the ready line.
 */
import type { AgentConfig } from "./config";
import { countPromptTokens, startEngine, waitForEngine, type Engine } from "./engine";
import { createForwarder } from "./forward";
import { createGatewayAuth } from "./gateway-auth";
import { postSigned, type SignedPost } from "./gateway-client";
import { startHeartbeats, type Heartbeats } from "./heartbeat";
import { Outbox } from "./outbox";
import { startOutboxSender, type OutboxSender } from "./outbox-sender";
import { createReceiptSigner } from "./receipts";
import { describe } from "./errors";
import { awaitGatewayIdentity, buildRegisterPayload, readGpuFacts, registerUntilAccepted, type Offer } from "./register";
import { createAgentServer, type AgentServer, type ServerState } from "./server";
import { createChallengeResponder } from "./challenge";
import { stakeOnStart } from "./stake";
import { loadKeccak } from "./keccak";

export interface AgentHandle {
  url: string;
  publicUrl: string;
  providerId: string;
  address: `0x${string}`;
  gateway: `0x${string}`;
  engine: { url: string; metricsUrl: string; controlUrl?: string };
  state: ServerState;
  outbox: Outbox;
  /** Requests accepted and not yet finished (receipt filed). */
  inFlight(): number;
  /** Graceful stop; the same promise on every call. */
  shutdown(): Promise<void>;
}

export interface AgentOptions {
  /** Aborts a start that is still waiting (engine, gateway). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export async function startAgent(cfg: AgentConfig, opts: AgentOptions = {}): Promise<AgentHandle> {
  const signal = opts.signal ?? new AbortController().signal;
  const log = opts.log ?? ((line: string) => process.stderr.write(`meshgate-provider[${cfg.providerId}]: ${line}\n`));
  let lastTimestamp = 0;
  const nextTimestamp = () => (lastTimestamp = Math.max(Date.now(), lastTimestamp + 1));

  const cleanup: (() => Promise<void>)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    const engine: Engine = await startEngine(cfg);
    cleanup.push(() => engine.close());
    const served = [cfg.model, ...(cfg.engine.kind === "sim" && cfg.engine.embeddingModel ? [cfg.engine.embeddingModel] : [])];
    const [engineModels, gpu] = await Promise.all([waitForEngine(engine.url, served, { signal, log }), readGpuFacts()]);
    const identity = await awaitGatewayIdentity(cfg, signal, log);
    // Before registering, so the gateway's first look at this provider finds it staked.
    await stakeOnStart(identity, cfg, signal, log);

    const outbox = await Outbox.open(cfg.outboxDir, log);
    cleanup.push(() => outbox.close());
    if (outbox.size > 0) log(`${outbox.size} unacknowledged receipts reloaded from ${outbox.file}`);
    const keccak = await loadKeccak();
    const signer = createReceiptSigner({
      account: cfg.account,
      privateKey: cfg.privateKey,
      chainId: cfg.chainId,
      gateway: identity.address,
      inputPriceMicro: cfg.inputPriceMicro,
      outputPriceMicro: cfg.outputPriceMicro,
      keccak,
    });
    const state: ServerState = { registered: false, draining: false };
    // The URL the gateway is told, known only once bound when --public-url is not given.
    let publicUrl = cfg.publicUrl ?? "";
    const server: AgentServer = createAgentServer({
      auth: await createGatewayAuth(identity.request_key),
      forwarder: createForwarder({ engine, signer, outbox, log, countPrompt: (path, body) => countPromptTokens(engine.url, path, body) }),
      state,
      challenge: createChallengeResponder({
        account: cfg.account,
        gateway: identity.address,
        chainId: cfg.chainId,
        publicUrl: () => publicUrl,
      }),
    });
    const { url } = await server.listen(cfg.port, cfg.host);
    cleanup.push(() => server.close());
    publicUrl ||= url;

    const offer: Offer = { engineModels, gpu, publicUrl };
    const post: SignedPost = { gatewayUrl: cfg.gatewayUrl, account: cfg.account, chainId: cfg.chainId, keccak };
    await registerUntilAccepted(cfg, offer, { ...post, signal }, nextTimestamp, log);
    state.registered = true;
    log(`registered as ${cfg.providerId} (${cfg.account.address}) at ${offer.publicUrl}, serving ${served.join(", ")}`);

    const heartbeats: Heartbeats = startHeartbeats({
      providerId: cfg.providerId,
      address: cfg.account.address,
      metricsUrl: engine.metricsUrl,
      periodMs: cfg.heartbeatMs,
      post,
      nextTimestamp,
      reregister: async () =>
        void (await postSigned(post, "/providers/v1/register", "register", buildRegisterPayload(cfg, offer, nextTimestamp()))),
      log,
    });
    const sender: OutboxSender = startOutboxSender({
      outbox,
      post,
      address: cfg.account.address,
      periodMs: cfg.outboxMs,
      nextTimestamp,
      log,
    });

    let stopping: Promise<void> | undefined;
    const shutdown = async () => {
      state.draining = true;
      heartbeats.stop();
      // Tell the gateway at once, so it stops routing here while the in-flight requests finish.
      await heartbeats.send(true).catch((err: unknown) => log(`draining heartbeat failed: ${describe(err)}`));
      if (!(await server.idle(cfg.drainMs))) log(`${server.inFlight()} requests still in flight after ${cfg.drainMs} ms; cutting them`);
      // Cuts what is left; their receipts (what was generated) are filed before this resolves.
      await server.close();
      await heartbeats.send(true).catch((err: unknown) => log(`final heartbeat failed: ${describe(err)}`));
      sender.stop();
      await outbox.sync();
      const { sent, remaining } = await sender.flush();
      log(`stopped: ${sent} receipts delivered in the last flush, ${remaining} kept in the outbox`);
      await undo();
    };
    return {
      url,
      publicUrl: offer.publicUrl,
      providerId: cfg.providerId,
      address: cfg.account.address,
      gateway: identity.address,
      engine: { url: engine.url, metricsUrl: engine.metricsUrl, ...(engine.controlUrl ? { controlUrl: engine.controlUrl } : {}) },
      state,
      outbox,
      inFlight: () => server.inFlight(),
      shutdown: () => (stopping ??= shutdown()),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
