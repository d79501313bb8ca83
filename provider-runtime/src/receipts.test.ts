import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { createParser } from "eventsource-parser";
import { UsageTap } from "../../workers/core/openai/usage-tap";
import { hashTypedData } from "viem";
import {
  decodeSignedReceipt,
  receiptDigest,
  receiptDigesterFor,
  receiptDomain,
  ReceiptTypes,
  responseHash,
  verifyReceipt,
  type Receipt,
} from "../../workers/core/protocol/receipt";
import { isPermanentRefusal, parseNvidiaSmi } from "./register";
import { GatewayReply } from "./gateway-client";
import { BodyHash, createReceiptSigner, StreamTap, usageFromJson } from "./receipts";

const chunk = (choice: Record<string, unknown>, usage: unknown = null) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [choice], usage })}\n\n`;

describe("StreamTap", () => {
  it("reads the usage chunk however the bytes are split, and counts content chunks", () => {
    const text =
      chunk({ index: 0, delta: { role: "assistant", content: "" } }) +
      chunk({ index: 0, delta: { content: "Hel" } }) +
      chunk({ index: 0, delta: { content: "lo ✓" } }) +
      chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{" } }] } }) +
      chunk({ index: 0, delta: {}, finish_reason: "stop" }) +
      `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } })}\n\n` +
      "data: [DONE]\n\n";
    const bytes = new TextEncoder().encode(text);
    for (const step of [1, 3, 17, bytes.length]) {
      const tap = new StreamTap();
      for (let i = 0; i < bytes.length; i += step) tap.feed(bytes.subarray(i, i + step));
      expect([tap.reported, tap.contentChunks, tap.doneSeen]).toEqual([{ promptTokens: 7, completionTokens: 3 }, 3, true]);
    }
  });

  it("falls back to the content chunks seen (completions' `text` too) when no usage came", () => {
    const tap = new StreamTap();
    tap.feed(new TextEncoder().encode(`${chunk({ index: 0, text: "a" })}${chunk({ index: 0, text: "b" })}data: {not json\n\n`));
    expect(tap.counts(null)).toEqual({ promptTokens: 0, completionTokens: 2 });
    expect(tap.counts(9)).toEqual({ promptTokens: 9, completionTokens: 2 });
  });
});

describe("the agent and the gateway", () => {
  it("count the same stream the same way: reasoning, tool calls and content", () => {
    const text =
      chunk({ index: 0, delta: { role: "assistant", content: "" } }) +
      chunk({ index: 0, delta: { reasoning: "Let" } }) +
      chunk({ index: 0, delta: { reasoning_content: " me" } }) +
      chunk({ index: 0, delta: { reasoning: " see", reasoning_content: " see" } }) +
      chunk({ index: 0, delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "" } }] } }) +
      chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{}" } }] } }) +
      chunk({ index: 0, delta: { tool_calls: [] } }) +
      chunk({ index: 0, delta: { content: "Hi" } }) +
      "data: {not json\n\n" +
      chunk({ index: 0, delta: {}, finish_reason: "tool_calls" }, { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 });
    const bytes = new TextEncoder().encode(text);
    const agent = new StreamTap();
    agent.feed(bytes);
    const gateway = new UsageTap({ includeUsage: false });
    const parser = createParser({ onEvent: (ev) => gateway.consume(ev) });
    parser.feed(text);
    const seen = gateway.outcome();
    expect(agent.contentChunks).toBe(6);
    expect([agent.contentChunks, agent.reported]).toEqual([seen.deliveredTokens, seen.reported]);
  });
});

describe("receipts", () => {
  it("hashes incrementally exactly as the protocol's responseHash", async () => {
    const body = 'data: {"x":1}\n\ndata: [DONE]\n\n';
    const h = new BodyHash();
    h.update(Buffer.from(body.slice(0, 5)));
    h.update(Buffer.from(body.slice(5)));
    expect(h.digest()).toBe(await responseHash(body));
  });

  it("reads JSON usage, embeddings' included", () => {
    expect(usageFromJson(Buffer.from('{"usage":{"prompt_tokens":4,"completion_tokens":2}}'))).toEqual({
      promptTokens: 4,
      completionTokens: 2,
    });
    expect(usageFromJson(Buffer.from('{"usage":{"prompt_tokens":4,"total_tokens":4}}'))).toEqual({ promptTokens: 4, completionTokens: 0 });
    expect(usageFromJson(Buffer.from("nope"))).toBeNull();
  });

  it("signs a receipt that verifies for the provider, with prices in micro-USDC per million", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const gateway = privateKeyToAccount(generatePrivateKey()).address;
    const signer = createReceiptSigner({
      account,
      chainId: 8453,
      gateway,
      inputPriceMicro: 150_000n,
      outputPriceMicro: 600_000n,
      now: () => 1_700_000_000_000,
    });
    const hash = await responseHash("body");
    const signed = decodeSignedReceipt(
      await signer.sign({ requestId: "gen-1", model: "m", promptTokens: 3, completionTokens: 5, responseHash: hash }),
    )!;
    expect(signed.receipt).toEqual({
      requestId: "gen-1",
      model: "m",
      promptTokens: 3,
      completionTokens: 5,
      inputPrice: 150_000n,
      outputPrice: 600_000n,
      provider: account.address,
      gateway,
      responseHash: hash,
      timestamp: 1_700_000_000_000n,
    });
    expect(await verifyReceipt(receiptDomain(8453), signed.receipt, signed.signature, account.address)).toBe(true);
    expect(await verifyReceipt(receiptDomain(31337), signed.receipt, signed.signature, account.address)).toBe(false);
  });
});

describe("the fast receipt digest", () => {
  it("equals the protocol's receiptDigest (EIP-712 hashTypedData) field for field", async () => {
    const a = privateKeyToAccount(generatePrivateKey()).address;
    const b = privateKeyToAccount(generatePrivateKey()).address;
    const base: Receipt = {
      requestId: "gen-1",
      model: "meshgate/sim-llama-8b",
      promptTokens: 7,
      completionTokens: 9,
      inputPrice: 150_000n,
      outputPrice: 600_000n,
      provider: a,
      gateway: b,
      responseHash: await responseHash("x"),
      timestamp: 1_700_000_000_123n,
    };
    const variants: Receipt[] = [
      base,
      { ...base, requestId: "gen-ünïcødé-✓-𝄞", model: "模型/名字" },
      { ...base, promptTokens: 2 ** 32 - 1, completionTokens: 0, inputPrice: 2n ** 64n - 1n, outputPrice: 0n, timestamp: 2n ** 64n - 1n },
      { ...base, provider: b, gateway: a, responseHash: await responseHash("y"), requestId: "x".repeat(256) },
    ];
    for (const domain of [receiptDomain(31337), receiptDomain(8453, a)]) {
      const digest = receiptDigesterFor(domain);
      const typed = (r: Receipt) => hashTypedData({ domain, types: ReceiptTypes, primaryType: "Receipt", message: r });
      for (const r of variants) expect([digest(r), receiptDigest(domain, r)]).toEqual([typed(r), typed(r)]);
    }
  });

  it("signs receipts that the protocol verifies", async () => {
    const privateKey = generatePrivateKey();
    const account = privateKeyToAccount(privateKey);
    const signer = createReceiptSigner({
      account,
      privateKey,
      chainId: 31337,
      gateway: account.address,
      inputPriceMicro: 1n,
      outputPriceMicro: 2n,
    });
    const signed = decodeSignedReceipt(
      await signer.sign({ requestId: "gen-2", model: "m", promptTokens: 1, completionTokens: 2, responseHash: await responseHash("") }),
    )!;
    expect(await verifyReceipt(receiptDomain(31337), signed.receipt, signed.signature, account.address)).toBe(true);
  });
});

describe("registration helpers", () => {
  it("parses nvidia-smi's CSV into GPU facts", () => {
    expect(parseNvidiaSmi("NVIDIA A100-SXM4-80GB, 81920, 535.104.05\nNVIDIA A100-SXM4-80GB, 81920, 535.104.05\n")).toEqual({
      present: true,
      count: 2,
      name: "NVIDIA A100-SXM4-80GB",
      driver_version: "535.104.05",
      devices: [1, 2].map(() => ({ name: "NVIDIA A100-SXM4-80GB", memory_mib: 81920, driver_version: "535.104.05" })),
    });
    expect(parseNvidiaSmi("")).toEqual({ present: false });
  });

  it("treats only a considered 4xx refusal as permanent", () => {
    const openAi = JSON.stringify({ error: { message: "no", type: "invalid_request_error", param: null, code: null } });
    expect(isPermanentRefusal(new GatewayReply(403, openAi))).toBe(true);
    expect(isPermanentRefusal(new GatewayReply(400, openAi))).toBe(true);
    expect(isPermanentRefusal(new GatewayReply(429, openAi))).toBe(false);
    expect(isPermanentRefusal(new GatewayReply(404, openAi))).toBe(false);
    expect(isPermanentRefusal(new GatewayReply(403, "<html>proxy</html>"))).toBe(false);
    expect(isPermanentRefusal(new GatewayReply(503, openAi))).toBe(false);
    const conflict = (param: string) =>
      JSON.stringify({ error: { message: "conflict", type: "invalid_request_error", param, code: "conflict" } });
    expect(isPermanentRefusal(new GatewayReply(409, conflict("payload.id")))).toBe(true);
    expect(isPermanentRefusal(new GatewayReply(409, conflict("payload.timestamp")))).toBe(false);
    expect(isPermanentRefusal(new Error("ECONNREFUSED"))).toBe(false);
  });
});
