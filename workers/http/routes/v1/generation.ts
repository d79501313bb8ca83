/**
 * GET /v1/generation?id=: one request's provider, tokens, cost and latency (OpenRouter-style).
 * A stream continued mid-answer by another provider lists its continuations (`<id>.1`, …), each
 * billed as its own usage event with its own receipt: the trace of the whole answer.
 */
import { Hono } from "hono";
import { errors } from "../../../core/openai/errors";
import { formatUsdc } from "../../../core/money/units";
import { continuationRequestId } from "../../../core/openai/continuation";
import type { UsageRecord } from "../../../core/metering/usage";
import { MAX_CONTINUATIONS } from "../../../pipeline/inference/continue";
import type { AppEnv } from "../../app-env";

export const generationRoutes = new Hono<AppEnv>().get("/generation", async (c) => {
  const id = c.req.query("id");
  if (!id) throw errors.missingParameter("id");
  const rec = await c.var.deps.usage.byRequestId(id, c.var.key.accountId);
  if (!rec) throw errors.notFound(`Generation '${id}'`);
  const receipt = rec.providerId ? await c.var.deps.registry.receiptFor(id) : null;
  const continuations: UsageRecord[] = [];
  for (let n = 1; n <= MAX_CONTINUATIONS && rec.stream && rec.status === "partial"; n++) {
    const next = await c.var.deps.usage.byRequestId(continuationRequestId(id, n), c.var.key.accountId);
    if (!next) break;
    continuations.push(next);
    if (next.status !== "partial") break;
  }
  return c.json({
    data: {
      id: rec.requestId,
      model: rec.model,
      provider: rec.providerId,
      endpoint: rec.endpoint,
      streamed: rec.stream,
      status: rec.status,
      error_code: rec.errorCode,
      tokens_prompt: rec.promptTokens,
      tokens_completion: rec.completionTokens,
      total_cost: formatUsdc(rec.costPico),
      cost_pico: rec.costPico.toString(),
      latency: rec.ttftMs,
      generation_time: rec.durationMs,
      attempts: rec.attempts,
      edge: rec.edge,
      created_at: new Date(rec.createdAtMs).toISOString(),
      // Whether the counts above were signed by the provider and matched what the gateway saw.
      receipt_status: rec.receiptStatus,
      // provider_signed: the billed counts are the ones in the provider's verified receipt;
      // gateway_measured: counted by the gateway (usage reported in-band, or delivered chunks).
      counts: rec.receiptStatus === "verified" ? "provider_signed" : "gateway_measured",
      receipt: receipt && {
        status: receipt.status,
        source: receipt.source,
        signer: receipt.signer,
        prompt_tokens: receipt.promptTokens,
        completion_tokens: receipt.completionTokens,
        response_hash: receipt.responseHash,
        digest: receipt.digest,
        signature: receipt.signature,
      },
      continuations: continuations.map((part) => ({
        id: part.requestId,
        provider: part.providerId,
        status: part.status,
        error_code: part.errorCode,
        tokens_prompt: part.promptTokens,
        tokens_completion: part.completionTokens,
        total_cost: formatUsdc(part.costPico),
        cost_pico: part.costPico.toString(),
        receipt_status: part.receiptStatus,
      })),
    },
  });
});
