/** Metering in workerd against real Postgres: usage events written in waitUntil, idempotent; the latency table; the cron. */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { insertUsage } from "../../workers/adapters/postgres/usage";
import type { UsageRecord } from "../../workers/core/metering/usage";
import {
  chat,
  env,
  model,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  runScheduled,
  sql,
  withDb,
} from "../support/workerd/gateway";

type Row = Record<string, unknown>;
let k: Awaited<ReturnType<typeof newKey>>;
const [A, B] = PROVIDERS;

beforeAll(async () => {
  await registerProviders();
  k = await newKey("Metered");
});
beforeEach(resetNetwork);

const usageOf = (requestId: string) => sql("select * from usage_events where request_id = $1", [requestId]);

describe("usage events", () => {
  it("writes exactly one row per completion after the response, with the tokens and the exact cost", async () => {
    const { res, text } = await chat(k.secret, { max_tokens: 7 });
    expect(res.status).toBe(200);
    const { usage } = JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(usage.completion_tokens).toBe(7);
    const rows = await usageOf(res.headers.get("x-request-id")!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      key_id: k.keyId,
      account_id: k.accountId,
      provider_id: A.id,
      model,
      endpoint: "chat",
      stream: false,
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: 7,
      status: "ok",
      error_code: null,
      edge: env.EDGE_FALLBACK,
      attempts: 1,
    });
    // pico-USDC = tokens × (micro-USDC per million tokens), exactly
    expect(BigInt(rows[0]!.cost_pico as string)).toBe(BigInt(usage.prompt_tokens) * A.inputPico + 7n * A.outputPico);
  });

  it("bills a stream at the price of the provider that served it", async () => {
    const { res, text } = await chat(k.secret, {
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
      provider: { order: [B.id] },
    });
    expect(res.headers.get("x-meshgate-provider")).toBe(B.id);
    const usageChunk = text
      .split("\n\n")
      .map((e) => e.replace(/^data: /, ""))
      .filter((e) => e.startsWith("{"))
      .map((e) => JSON.parse(e) as { usage?: { prompt_tokens: number; completion_tokens: number } })
      .find((e) => e.usage)?.usage;
    expect(usageChunk?.completion_tokens).toBe(4);
    const rows = await usageOf(res.headers.get("x-request-id")!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider_id: B.id, stream: true, completion_tokens: 4, status: "ok" });
    expect(BigInt(rows[0]!.cost_pico as string)).toBe(BigInt(usageChunk!.prompt_tokens) * B.inputPico + 4n * B.outputPico);
  });

  it("leaves one row when the same insert is replayed (idempotent on the request id)", async () => {
    const rec: UsageRecord = {
      requestId: `gen-replay-${crypto.randomUUID()}`,
      keyId: k.keyId,
      accountId: k.accountId,
      providerId: A.id,
      model,
      endpoint: "chat",
      stream: false,
      promptTokens: 11,
      completionTokens: 3,
      costPico: 11n * A.inputPico + 3n * A.outputPico,
      feePico: 0n,
      status: "ok",
      errorCode: null,
      receiptStatus: "none",
      ttftMs: 5,
      durationMs: 9,
      edge: "local",
      attempts: 1,
      createdAtMs: Date.now(),
    };
    await withDb((db) => insertUsage(db, [rec]));
    await withDb((db) => insertUsage(db, [rec]));
    await withDb((db) => insertUsage(db, [{ ...rec, costPico: 1n }])); // a replay never rewrites the first
    const rows = await usageOf(rec.requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.cost_pico).toBe(String(rec.costPico));

    // The same record twice in one batch (a retried flush) also collapses.
    const twice = { ...rec, requestId: `gen-replay-${crypto.randomUUID()}` };
    await withDb((db) => insertUsage(db, [twice, twice]));
    expect(await usageOf(twice.requestId)).toHaveLength(1);
  });
});

describe("the latency table and the cron", () => {
  const latency = async (providerId: string): Promise<Row | undefined> =>
    (
      await sql("select * from latency_stats where edge = $1 and provider_id = $2 and model = $3", [env.EDGE_FALLBACK, providerId, model])
    )[0];

  it("folds each request and each probe into the row for (edge, provider, model)", async () => {
    const a0 = Number((await latency(A.id))?.samples ?? 0);
    const b0 = Number((await latency(B.id))?.samples ?? 0);
    for (let i = 0; i < 2; i++) expect((await chat(k.secret)).res.headers.get("x-meshgate-provider")).toBe(A.id);
    const afterRequests = await latency(A.id);
    expect(afterRequests).toMatchObject({ samples: a0 + 2 });
    expect(afterRequests!.success_rate).toBeGreaterThan(0.9);
    expect(afterRequests!.ttft_ms).toBeGreaterThan(0);
    expect(Number((await latency(B.id))?.samples ?? 0)).toBe(b0); // not tried

    await runScheduled(); // probes both
    expect(await latency(A.id)).toMatchObject({ samples: a0 + 3 });
    expect(await latency(B.id)).toMatchObject({ samples: b0 + 1, success_rate: expect.any(Number) });
    expect((await latency(B.id))!.success_rate).toBeGreaterThan(0.9);
  });

  it("refreshes every provider's heartbeat from the scheduled handler", async () => {
    await sql("update providers set last_heartbeat_at = now() - interval '1 hour'");
    await runScheduled();
    const beats = await sql<{ id: string; fresh: boolean }>(
      "select id, last_heartbeat_at > now() - interval '1 minute' as fresh from providers where id = any($1) order by id",
      [[A.id, B.id]],
    );
    expect(beats).toEqual([
      { id: A.id, fresh: true },
      { id: B.id, fresh: true },
    ]);
  });
});
