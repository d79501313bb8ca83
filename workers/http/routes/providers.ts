/**
 * /providers/v1: the provider runtime's side of the protocol. Every message is signed by the
 * provider's wallet (EIP-712); registration binds a provider id to that wallet for good, and the
 * endpoint to that provider once its agent has signed the gateway's challenge with that wallet.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { errors } from "../../core/openai/errors";
import { Address, Signature } from "../../core/wire";
import { validate } from "../../core/openai/validation";
import { parseUsdcPerMTok } from "../../core/money/pricing";
import { checkProviderUrl } from "../../core/protocol/endpoint-policy";
import { HeartbeatPayload, MESSAGE_WINDOW_MS, RegisterPayload, verifyProviderMessage } from "../../core/protocol/provider-messages";
import { normaliseEndpoint } from "../../core/protocol/endpoint-challenge";
import { acceptReceipts } from "../../pipeline/receipts/accept";
import { proveEndpoint } from "../../pipeline/registration/prove-endpoint";
import { receiptProof } from "./receipt-proof";
import type { AppEnv } from "../app-env";
import { parseJsonBody } from "../parse";

const ReceiptsPayload = z.object({
  address: Address,
  timestamp: z.number().int(),
  receipts: z.array(z.string().max(8_192)).min(1).max(500),
});

const Envelope = z.object({
  payload: z.looseObject({ address: Address, timestamp: z.number().int() }),
  signature: Signature,
});

/**
 * The signature covers the payload exactly as sent (its canonical JSON), so it is checked on
 * the raw payload before the schema parses (and normalises) it.
 */
async function signed<S extends z.ZodType>(
  c: Context<AppEnv>,
  kind: "register" | "heartbeat" | "receipts",
  schema: S,
): Promise<z.infer<S>> {
  const { payload, signature } = await parseJsonBody(c, Envelope);
  const { deps } = c.var;
  if (Math.abs(deps.now() - payload.timestamp) > MESSAGE_WINDOW_MS) {
    throw errors.invalidRequest(
      `The message timestamp is more than ${MESSAGE_WINDOW_MS / 1000} s from the gateway's clock.`,
      "payload.timestamp",
      "stale_message",
    );
  }
  if (!(await verifyProviderMessage(deps.cfg.chainId, kind, payload, signature))) throw errors.invalidSignature();
  return validate(schema, payload, ["payload"]);
}

export const providerRoutes = new Hono<AppEnv>()
  .get("/gateway", async (c) => {
    const { cfg } = c.var.deps;
    // The chain a provider stakes on: the contract and the minimum (USDC base units). Never the RPC URL, which may carry a key.
    const chain = cfg.chain && {
      settlement: cfg.chain.settlement,
      usdc: cfg.chain.usdc,
      min_stake_base: cfg.chain.minStakeBase.toString(),
    };
    return c.json({
      address: cfg.gatewayAddress,
      request_key: await c.var.deps.gatewayPublicKey(),
      chain_id: cfg.chainId,
      chain: chain ?? null,
    });
  })
  .post("/register", async (c) => {
    const p = await signed(c, "register", RegisterPayload);
    const url = checkProviderUrl(p.url, { allowlist: c.var.deps.cfg.providerUrlAllowlist, gatewayUrl: c.req.url });
    if (!url.ok) throw errors.invalidRequest(`The endpoint URL is not allowed: ${url.reason}.`, "payload.url", "invalid_endpoint_url");
    const models = p.models.map((m, i) => {
      try {
        return {
          model: m.model,
          endpoints: m.endpoints,
          contextLength: m.context_length,
          inputPrice: parseUsdcPerMTok(m.input_price),
          outputPrice: parseUsdcPerMTok(m.output_price),
        };
      } catch (e) {
        throw errors.invalidRequest(
          `Invalid price: ${e instanceof Error ? e.message : String(e)}.`,
          `payload.models[${i}]`,
          "invalid_price",
        );
      }
    });
    // Before anything is stored (and so before it is routable): the wallet proves it controls the endpoint.
    const endpoint = normaliseEndpoint(p.url);
    await proveEndpoint(c.var.deps, { id: p.id, wallet: p.address as `0x${string}`, endpoint });
    const outcome = await c.var.deps.registry.register({
      id: p.id,
      address: p.address,
      url: endpoint,
      region: p.region,
      gpu: p.gpu,
      maxConcurrency: p.max_concurrency,
      messageAtMs: p.timestamp,
      models,
    });
    if (outcome === "address_mismatch") throw errors.forbidden(`Provider '${p.id}' is registered to another wallet.`);
    if (outcome === "endpoint_taken") throw errors.endpointTaken(endpoint);
    if (outcome === "address_in_use") throw errors.conflict(`This wallet already registered another provider id.`, "payload.id");
    if (outcome === "stale") throw errors.conflict("A newer message from this provider was already accepted.", "payload.timestamp");
    c.var.deps.routes.invalidate();
    return c.json({ id: p.id, status: outcome }, outcome === "created" ? 201 : 200);
  })
  .post("/heartbeat", async (c) => {
    const p = await signed(c, "heartbeat", HeartbeatPayload);
    const outcome = await c.var.deps.registry.heartbeat({
      id: p.id,
      address: p.address,
      messageAtMs: p.timestamp,
      running: p.load.running,
      waiting: p.load.waiting,
      kvCacheUsage: p.load.kv_cache_usage,
      tokensServed: BigInt(p.load.tokens_served),
      draining: p.draining,
    });
    if (outcome === "unknown") throw errors.forbidden(`Provider '${p.id}' is not registered to this wallet; register first.`);
    if (outcome === "stale") throw errors.conflict("A newer message from this provider was already accepted.", "payload.timestamp");
    if (p.draining) c.var.deps.routes.invalidate();
    return c.json({ ok: true });
  })
  .post("/receipts", async (c) => {
    const p = await signed(c, "receipts", ReceiptsPayload);
    return c.json(await acceptReceipts(c.var.deps, p.address, p.receipts));
  })
  .get("/receipts/:requestId/proof", receiptProof);
