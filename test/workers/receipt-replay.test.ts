/**
 * The receipt path against replays and provider-cut streams: a receipt that conflicts with the one
 * stored for a request never changes that request's verdict, and a stream the provider cut (billed
 * at the gateway's prompt estimate) is corrected to the signed prompt count once, never billing
 * more completion tokens than were delivered.
 */
import { SELF } from "cloudflare:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it } from "vitest";
import { signProviderMessage } from "../../workers/core/protocol/provider-messages";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import type { Hex } from "viem";
import {
  decodeSignedReceipt,
  encodeSignedReceipt,
  receiptDigest,
  receiptDomain,
  signReceipt,
  type Receipt,
} from "../../workers/core/protocol/receipt";
import { ReceiptBatchTypes } from "../../workers/core/protocol/receipt-batch";
import { BASE, engine, env, newKey, sql, withDb } from "../support/workerd/gateway";
import { registerWithAgent } from "../support/workerd/agent-stub";
import { insertUsage } from "../../workers/adapters/postgres/usage";
import { storeReceipts } from "../../workers/adapters/postgres/registry";
import { auditLedger } from "../../workers/adapters/postgres/ledger";
import { receiptRecord } from "../../workers/pipeline/receipts/row";
import type { UsageRecord } from "../../workers/core/metering/usage";
import { feeSplit } from "../../workers/core/money/ledger";

const MODEL = "receipt-replay/model"; // its own model: nothing else routes to this provider
const PROVIDER = "wk-replay";
const wallet = privateKeyToAccount(generatePrivateKey());
const CHAIN = Number(env.CHAIN_ID ?? 31337);
const IN = 200_000n,
  OUT = 400_000n; // 0.20 / 0.40 USDC per M tokens = pico per token
let k: Awaited<ReturnType<typeof newKey>>;

const post = async (path: string, payload: Record<string, unknown>, kind: "register" | "receipts") => {
  const signature = await signProviderMessage(wallet, CHAIN, kind, payload as never);
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload, signature }),
  });
};

beforeAll(async () => {
  k = await newKey("Receipt replay");
  // An agent holding the wallet answers the gateway's endpoint challenge.
  const res = await registerWithAgent(wallet, {
    id: PROVIDER,
    address: wallet.address,
    url: engine("wk-b").url, // receipt-billing's provider holds wk-a's endpoint
    region: "local",
    gpu: null,
    max_concurrency: 4,
    timestamp: Date.now(),
    models: [{ model: MODEL, endpoints: ["chat"], input_price: "0.20", output_price: "0.40", context_length: 4096 }],
  });
  expect([200, 201], await res.clone().text()).toContain(res.status);
});

/** A receipt made now (a distinct timestamp: two receipts with the same counts are still two receipts). */
let tick = 0;
const receiptOf = (requestId: string, promptTokens: number, completionTokens: number): Receipt => ({
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
});
async function signedReceipt(requestId: string, promptTokens: number, completionTokens: number): Promise<string> {
  const receipt = receiptOf(requestId, promptTokens, completionTokens);
  return encodeSignedReceipt(receipt, await signReceipt(wallet, receiptDomain(CHAIN), receipt));
}

/** Receipts signed as the agent signs a batch (SPEC §2.1): one signature over their root, a path each. */
async function signedBatch(receipts: Receipt[]): Promise<{ wire: string[]; paths: { root: Hex; proof: Hex[] }[] }> {
  const domain = receiptDomain(CHAIN);
  const tree = SimpleMerkleTree.of(
    receipts.map((r) => receiptDigest(domain, r)),
    { sortLeaves: false },
  );
  const root = tree.root as Hex;
  const signature = await wallet.signTypedData({ domain, types: ReceiptBatchTypes, primaryType: "ReceiptBatch", message: { root } });
  const paths = receipts.map((_, i) => ({ root, proof: tree.getProof(i) as Hex[] }));
  return { wire: receipts.map((r, i) => encodeSignedReceipt(r, signature, paths[i])), paths };
}

async function postReceipts(encoded: string[]) {
  const res = await post("/providers/v1/receipts", { address: wallet.address, timestamp: Date.now(), receipts: encoded }, "receipts");
  expect(res.status).toBe(200);
  return res.json();
}

/** A streamed usage event of this provider, written as the batched writer writes it. */
async function billed(over: Partial<UsageRecord>): Promise<UsageRecord> {
  const rec: UsageRecord = {
    requestId: `gen-replay-${crypto.randomUUID()}`,
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
    ...over,
  };
  await withDb((db) => insertUsage(db, [rec]));
  return rec;
}

const eventOf = async (requestId: string) =>
  (
    await sql<Record<string, unknown>>(
      "select receipt_status, prompt_tokens, completion_tokens, cost_pico::text from usage_events where request_id = $1",
      [requestId],
    )
  )[0];
const storedOf = async (requestId: string) =>
  (await sql<Record<string, unknown>>("select digest, signature, status, source from receipts where request_id = $1", [requestId]))[0];
const adjustments = (requestId: string) =>
  sql<{ account: string; amount_pico: string }>(
    "select account, amount_pico::text from ledger_entries where kind = 'adjustment' and reference = $1 order by account",
    [requestId],
  );
const guard = () => env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(k.accountId));

describe("a receipt replayed against a verified verdict", () => {
  it("rejects a second, conflicting receipt for a request whose verified receipt is stored; the event stays verified", async () => {
    const x = await billed({});
    const original = await signedReceipt(x.requestId, 10, 7);
    expect(await postReceipts([original])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await eventOf(x.requestId)).toMatchObject({ receipt_status: "verified" });
    const stored = await storedOf(x.requestId);
    expect(stored).toMatchObject({ status: "verified" });

    // A stale receipt of the same request (other counts, signed again): judged on its own it is a mismatch.
    const ack = await postReceipts([await signedReceipt(x.requestId, 10, 5)]);
    expect(await eventOf(x.requestId)).toMatchObject({ receipt_status: "verified", completion_tokens: 7 });
    expect(await storedOf(x.requestId)).toEqual(stored);
    // Refused (not stored, so not acknowledged): the agent sets it aside instead of sending it forever.
    expect(ack).toEqual({
      accepted: [],
      rejected: [{ request_id: x.requestId, reason: "a different receipt is stored for this request" }],
    });
    // The original sent again, or its claim signed again: acknowledged, nothing stored or changed.
    expect(await postReceipts([original])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await postReceipts([await signedReceipt(x.requestId, 10, 7)])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await storedOf(x.requestId)).toEqual(stored);
    expect(await eventOf(x.requestId)).toMatchObject({ receipt_status: "verified" });
  });

  it("stores nothing, and changes no verdict, for a receipt row whose insert conflicted (the inline flush)", async () => {
    const x = await billed({});
    expect(await postReceipts([await signedReceipt(x.requestId, 10, 7)])).toEqual({ accepted: [x.requestId], rejected: [] });
    const stored = await storedOf(x.requestId);
    // X's receipt, signed again, that came back inline with another request and was judged a mismatch there.
    const replay = decodeSignedReceipt(await signedReceipt(x.requestId, 10, 7))!;
    const row = receiptRecord(CHAIN, PROVIDER, replay.receipt, replay.signature, "inline", "mismatch");
    const storedIds = await withDb((db) => storeReceipts(db, [row]));
    expect(await eventOf(x.requestId)).toMatchObject({ receipt_status: "verified" });
    expect(await storedOf(x.requestId)).toEqual(stored);
    expect(storedIds).toEqual([]);
  });
});

describe("a stream the provider cut, billed at the prompt estimate", () => {
  /** 3 tokens delivered before the provider's stream ended; the prompt billed at the gateway's estimate of 13. */
  const cut = (errorCode: string) =>
    billed({
      promptTokens: 13,
      completionTokens: 3,
      costPico: 13n * IN + 3n * OUT,
      feePico: feeSplit(13n * IN + 3n * OUT, 500).feePico,
      status: "partial",
      errorCode,
    });

  it("is corrected to the signed prompt count, never to more completion tokens than delivered, booked once", async () => {
    const x = await cut("upstream_stream_ended");
    const before = (await guard().snapshot(k.accountId)).balancePico;
    // The provider signs 5 prompt tokens and the 4 it generated; the client got 3.
    const receipt = await signedReceipt(x.requestId, 5, 4);
    expect(await postReceipts([receipt])).toEqual({ accepted: [x.requestId], rejected: [] });
    const corrected = 5n * IN + 3n * OUT;
    expect(await eventOf(x.requestId)).toEqual({
      receipt_status: "verified",
      prompt_tokens: 5,
      completion_tokens: 3,
      cost_pico: String(corrected),
    });
    const refund = x.costPico - corrected;
    const booked = await adjustments(x.requestId);
    expect(booked.find((e) => e.account === `customer:${k.accountId}`)?.amount_pico).toBe(String(refund));
    expect(booked.reduce((sum, e) => sum + BigInt(e.amount_pico), 0n)).toBe(0n);
    expect((await guard().snapshot(k.accountId)).balancePico).toBe(before + refund);

    // Sent again (the outbox retries): acknowledged, nothing more booked.
    expect(await postReceipts([receipt])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await adjustments(x.requestId)).toEqual(booked);
    expect(await eventOf(x.requestId)).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, cost_pico: String(corrected) });
    expect((await withDb((db) => auditLedger(db))).problems).toEqual([]);
  });

  it("is corrected by the outbox copy of a receipt already judged verified inline", async () => {
    const x = await cut("upstream_idle_timeout");
    const encoded = await signedReceipt(x.requestId, 5, 3);
    const d = decodeSignedReceipt(encoded)!;
    // What the inline judgement stored after the stream (its signature checked, its completion ≥ delivered).
    await withDb((db) => storeReceipts(db, [receiptRecord(CHAIN, PROVIDER, d.receipt, d.signature, "inline", "verified")]));
    expect(await eventOf(x.requestId)).toMatchObject({ receipt_status: "verified", prompt_tokens: 13 });

    expect(await postReceipts([encoded])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await eventOf(x.requestId)).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, cost_pico: String(5n * IN + 3n * OUT) });
    expect(await adjustments(x.requestId)).toHaveLength(3); // customer, provider, protocol fee
    expect(await postReceipts([encoded])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await adjustments(x.requestId)).toHaveLength(3);
    expect((await withDb((db) => auditLedger(db))).problems).toEqual([]);
  });

  it("is a mismatch, left as billed, when the receipt signs fewer tokens than were delivered", async () => {
    const x = await cut("upstream_error");
    expect(await postReceipts([await signedReceipt(x.requestId, 5, 2)])).toEqual({ accepted: [x.requestId], rejected: [] });
    expect(await eventOf(x.requestId)).toMatchObject({ receipt_status: "unverified", prompt_tokens: 13, completion_tokens: 3 });
    expect(await adjustments(x.requestId)).toEqual([]);
  });
});

describe("receipts signed by the batch, from the outbox", () => {
  it("verifies each by its path to the signed root and stores the path; refuses one given another receipt's path", async () => {
    const [x, y, z] = [await billed({}), await billed({}), await billed({})];
    const batch = await signedBatch([receiptOf(x.requestId, 10, 7), receiptOf(y.requestId, 10, 7), receiptOf(z.requestId, 10, 7)]);
    const moved = JSON.stringify({ ...JSON.parse(batch.wire[2]!), batch: batch.paths[0] });
    expect(await postReceipts([batch.wire[0]!, batch.wire[1]!, moved])).toEqual({
      accepted: [x.requestId, y.requestId],
      rejected: [{ request_id: z.requestId, reason: "signature" }],
    });
    for (const [i, r] of [x, y].entries()) {
      expect(await eventOf(r.requestId)).toMatchObject({ receipt_status: "verified" });
      const [row] = await sql<{ batch: unknown; status: string }>("select batch, status from receipts where request_id = $1", [
        r.requestId,
      ]);
      expect(row).toEqual({ batch: batch.paths[i], status: "verified" });
    }
    expect(await storedOf(z.requestId)).toBeUndefined();
    expect(await postReceipts([batch.wire[2]!])).toEqual({ accepted: [z.requestId], rejected: [] });
  });
});
