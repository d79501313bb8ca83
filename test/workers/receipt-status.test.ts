/**
 * A request's receipt status only moves up (core/metering/receipt-status.ts): the provider's outbox
 * receipt, reconciled first, is not undone by the inline verdict that the batched writer flushes
 * after it (a stream cut before its receipt event: 'unverified'); a stored mismatch stays disputed.
 */
import { SELF } from "cloudflare:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it } from "vitest";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { decodeSignedReceipt, encodeSignedReceipt, receiptDomain, signReceipt, type Receipt } from "../../workers/core/protocol/receipt";
import { adminJson, BASE, engine, env, newKey, sql, withDb } from "../support/workerd/gateway";
import { insertUsage } from "../../workers/adapters/postgres/usage";
import { storeReceipts } from "../../workers/adapters/postgres/registry";
import { writeUsageBatch } from "../../workers/adapters/postgres/usage-batch";
import { receiptRecord } from "../../workers/pipeline/receipts/row";
import type { UsageRecord } from "../../workers/core/metering/usage";

const MODEL = "receipt-status/model"; // its own model: nothing else routes to this provider
const PROVIDER = "wk-receipt-status";
const wallet = privateKeyToAccount(generatePrivateKey());
const CHAIN = Number(env.CHAIN_ID ?? 31337);
const IN = 200_000n,
  OUT = 400_000n;
let k: Awaited<ReturnType<typeof newKey>>;

const post = async (path: string, payload: Record<string, unknown>, kind: "register" | "receipts") =>
  SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload, signature: await signProviderMessage(wallet, CHAIN, kind, payload as never) }),
  });

beforeAll(async () => {
  k = await newKey("Receipt status");
  // Registered by the operator, bound to the wallet that signs its receipts.
  await adminJson(
    "POST",
    "/providers",
    {
      id: PROVIDER,
      url: engine("wk-a").url,
      region: "local",
      address: wallet.address.toLowerCase(), // as self-registration stores it
      models: [{ model: MODEL, endpoints: ["chat"], input_price: "0.20", output_price: "0.40", context_length: 4096 }],
    },
    201,
  );
});

let tick = 0;
async function signedReceipt(requestId: string, promptTokens: number, completionTokens: number): Promise<string> {
  const receipt: Receipt = {
    requestId,
    model: MODEL,
    promptTokens,
    completionTokens,
    inputPrice: IN,
    outputPrice: OUT,
    provider: wallet.address,
    gateway: env.GATEWAY_ADDRESS as `0x${string}`,
    responseHash: `0x${"00".repeat(32)}`,
    timestamp: BigInt(Date.now() + tick++),
  };
  return encodeSignedReceipt(receipt, await signReceipt(wallet, receiptDomain(CHAIN), receipt));
}

async function billed(): Promise<UsageRecord> {
  const rec: UsageRecord = {
    requestId: `gen-status-${crypto.randomUUID()}`,
    keyId: k.keyId,
    accountId: k.accountId,
    providerId: PROVIDER,
    model: MODEL,
    endpoint: "chat",
    stream: true,
    promptTokens: 10,
    completionTokens: 7,
    costPico: 10n * IN + 7n * OUT,
    feePico: 0n,
    status: "ok",
    errorCode: null,
    receiptStatus: "none",
    ttftMs: 5,
    durationMs: 50,
    edge: "local",
    attempts: 1,
    createdAtMs: Date.now(),
  };
  await withDb((db) => insertUsage(db, [rec]));
  return rec;
}

/** The inline verdict as the usage buffer flushes it: a status update for an event already written. */
const lateInline = (requestId: string, status: UsageRecord["receiptStatus"]) =>
  withDb((db) => writeUsageBatch(db, { records: [], receipts: [], receiptStatuses: [[requestId, status]], latency: [] }));
const statusOf = async (requestId: string) =>
  (await sql<{ receipt_status: string }>("select receipt_status from usage_events where request_id = $1", [requestId]))[0]?.receipt_status;

describe("a late inline verdict", () => {
  it("does not undo the outbox receipt's 'verified'", async () => {
    const x = await billed();
    const res = await post(
      "/providers/v1/receipts",
      { address: wallet.address, timestamp: Date.now(), receipts: [await signedReceipt(x.requestId, 10, 7)] },
      "receipts",
    );
    expect(await res.json()).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await statusOf(x.requestId)).toBe("verified");
    await lateInline(x.requestId, "unverified"); // the stream was cut before its receipt event
    expect(await statusOf(x.requestId)).toBe("verified");
    await lateInline(x.requestId, "none");
    expect(await statusOf(x.requestId)).toBe("verified");
  });

  it("still raises a weaker status: none → unverified → verified", async () => {
    const x = await billed();
    await lateInline(x.requestId, "unverified");
    expect(await statusOf(x.requestId)).toBe("unverified");
    await lateInline(x.requestId, "verified");
    expect(await statusOf(x.requestId)).toBe("verified");
  });

  it("does not make a request whose stored receipt is a mismatch verified", async () => {
    const x = await billed();
    const stale = decodeSignedReceipt(await signedReceipt(x.requestId, 10, 5))!;
    await withDb((db) => storeReceipts(db, [receiptRecord(CHAIN, PROVIDER, stale.receipt, stale.signature, "outbox", "mismatch")]));
    expect(await statusOf(x.requestId)).toBe("unverified");
    await lateInline(x.requestId, "verified");
    expect(await statusOf(x.requestId)).toBe("unverified");
  });
});
