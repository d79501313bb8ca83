import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  HeartbeatPayload,
  providerMessageDomain,
  ProviderMessageTypes,
  RegisterPayload,
  SignedMessage,
  signProviderMessage,
  verifyProviderMessage,
  type ProviderMessageKind,
} from "./provider-messages";

// Anvil's well-known dev keys: test-only.
const provider = privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const other = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const CHAIN = 8453;
const T = 1_750_000_000_000;

const register = {
  id: "gpu-box-1",
  address: provider.address,
  url: "https://gpu.example.com",
  region: "eu-west",
  gpu: { name: "H100", count: 8, memory_gb: 80 },
  max_concurrency: 64,
  models: [
    {
      model: "meta-llama/Llama-3.1-8B-Instruct",
      endpoints: ["chat", "completions"],
      input_price: "0.20",
      output_price: "0.60",
      context_length: 131_072,
    },
    { model: "BAAI/bge-m3", endpoints: ["embeddings"], input_price: "0.01", output_price: "0", context_length: 8_192 },
  ],
  timestamp: T,
};
const heartbeat = {
  id: "gpu-box-1",
  address: provider.address,
  timestamp: T,
  load: { running: 3, waiting: 0, kv_cache_usage: 0.42, tokens_served: 123_456 },
};

describe("provider message schemas", () => {
  it("parse a registration and a heartbeat (draining defaults to false)", () => {
    expect(RegisterPayload.parse(register)).toEqual(register);
    expect(HeartbeatPayload.parse(heartbeat)).toEqual({ ...heartbeat, draining: false });
    expect(HeartbeatPayload.parse({ ...heartbeat, draining: true }).draining).toBe(true);
  });

  it.each([
    ["an upper-case id", { id: "GPU" }],
    ["a one-character id", { id: "a" }],
    ["an id starting with -", { id: "-gpu" }],
    ["a bad address", { address: "0x1234" }],
    ["a bad address checksum", { address: provider.address.replace("F", "f").replace("d", "D") }],
    ["a non-URL", { url: "gpu.example.com" }],
    ["a long region", { region: "x".repeat(65) }],
    ["zero concurrency", { max_concurrency: 0 }],
    ["no models", { models: [] }],
    ["33 models", { models: Array(33).fill(register.models[0]) }],
    ["a price with 7 decimals", { models: [{ ...register.models[0], input_price: "0.0000001" }] }],
    ["a negative price", { models: [{ ...register.models[0], output_price: "-1" }] }],
    ["an unknown endpoint", { models: [{ ...register.models[0], endpoints: ["images"] }] }],
    ["no endpoints", { models: [{ ...register.models[0], endpoints: [] }] }],
    ["a fractional timestamp", { timestamp: 1.5 }],
  ])("reject a registration with %s", (_, over) => {
    expect(RegisterPayload.safeParse({ ...register, ...over }).success).toBe(false);
  });

  it.each([
    ["kv_cache_usage above 1", { kv_cache_usage: 1.5 }],
    ["negative running", { running: -1 }],
    ["fractional waiting", { waiting: 0.5 }],
  ])("reject a heartbeat with %s", (_, over) => {
    expect(HeartbeatPayload.safeParse({ ...heartbeat, load: { ...heartbeat.load, ...over } }).success).toBe(false);
  });

  it("wrap payloads with a signature", async () => {
    const signature = await signProviderMessage(provider, CHAIN, "heartbeat", heartbeat);
    expect(SignedMessage(HeartbeatPayload).parse({ payload: heartbeat, signature }).signature).toBe(signature);
    expect(SignedMessage(HeartbeatPayload).safeParse({ payload: heartbeat, signature: "0x12" }).success).toBe(false);
  });
});

describe("provider message signatures", () => {
  it("use the Meshgate Provider domain and the documented types", () => {
    expect(providerMessageDomain(CHAIN)).toEqual({ name: "Meshgate Provider", version: "1", chainId: CHAIN });
    expect(ProviderMessageTypes.ProviderMessage.map((f) => `${f.type} ${f.name}`)).toEqual([
      "string kind",
      "address provider",
      "bytes32 payloadHash",
      "uint64 timestamp",
    ]);
  });

  it.each(["register", "heartbeat", "deregister", "receipts"] as const)("verify a signed %s message", async (kind) => {
    const payload = kind === "register" ? register : heartbeat;
    const signature = await signProviderMessage(provider, CHAIN, kind, payload);
    expect(await verifyProviderMessage(CHAIN, kind, payload, signature)).toBe(true);
  });

  it("verify the payload as received: after JSON, with keys in any order", async () => {
    const signature = await signProviderMessage(provider, CHAIN, "register", register);
    const received = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(register).reverse())));
    expect(await verifyProviderMessage(CHAIN, "register", received, signature)).toBe(true);
  });

  it("do not verify a parsed payload that gained a default (verify before parsing)", async () => {
    const signature = await signProviderMessage(provider, CHAIN, "heartbeat", heartbeat);
    expect(await verifyProviderMessage(CHAIN, "heartbeat", HeartbeatPayload.parse(heartbeat), signature)).toBe(false);
  });

  const changes: [string, object][] = [
    ["id", { id: "gpu-box-2" }],
    ["url", { url: "https://evil.example.com" }],
    ["region", { region: "us-east" }],
    ["gpu", { gpu: null }],
    ["max_concurrency", { max_concurrency: 65 }],
    ["a nested price", { models: [{ ...register.models[0], output_price: "0.61" }, register.models[1]] }],
    ["model order", { models: [register.models[1], register.models[0]] }],
    ["timestamp", { timestamp: T + 1 }],
    ["an added field", { extra: 1 }],
  ];
  it.each(changes)("reject a changed %s", async (_, over) => {
    const signature = await signProviderMessage(provider, CHAIN, "register", register);
    expect(await verifyProviderMessage(CHAIN, "register", { ...register, ...over }, signature)).toBe(false);
  });

  it("reject a changed address, kind or chain", async () => {
    const signature = await signProviderMessage(provider, CHAIN, "heartbeat", heartbeat);
    expect(await verifyProviderMessage(CHAIN, "heartbeat", { ...heartbeat, address: other.address }, signature)).toBe(false);
    expect(await verifyProviderMessage(CHAIN, "deregister", heartbeat, signature)).toBe(false);
    expect(await verifyProviderMessage(1, "heartbeat", heartbeat, signature)).toBe(false);
    const busier = { ...heartbeat, load: { ...heartbeat.load, waiting: 1 } };
    expect(await verifyProviderMessage(CHAIN, "heartbeat", busier, signature)).toBe(false);
  });

  it("reject a signature by another wallet claiming the provider's address", async () => {
    const forged = await other.signTypedData({
      domain: providerMessageDomain(CHAIN),
      types: ProviderMessageTypes,
      primaryType: "ProviderMessage",
      message: { kind: "heartbeat", provider: provider.address, payloadHash: `0x${"00".repeat(32)}`, timestamp: BigInt(T) },
    });
    expect(await verifyProviderMessage(CHAIN, "heartbeat", heartbeat, forged)).toBe(false);
  });

  it("refuse to sign for another address, and return false on malformed input", async () => {
    await expect(signProviderMessage(other, CHAIN, "heartbeat", heartbeat)).rejects.toThrow(/not the signing account/);
    const signature = await signProviderMessage(provider, CHAIN, "heartbeat", heartbeat);
    expect(await verifyProviderMessage(CHAIN, "heartbeat", heartbeat, "0x1234")).toBe(false);
    expect(await verifyProviderMessage(CHAIN, "heartbeat", { ...heartbeat, address: "0xnope" }, signature)).toBe(false);
    expect(await verifyProviderMessage(CHAIN, "heartbeat", { ...heartbeat, timestamp: 1.5 }, signature)).toBe(false);
    expect(await verifyProviderMessage(CHAIN, "bogus" as ProviderMessageKind, heartbeat, signature)).toBe(false);
    expect(await verifyProviderMessage(CHAIN, "heartbeat", { ...heartbeat, price: 1n } as typeof heartbeat, signature)).toBe(false);
  });

  it("re-export canonicalJson", () => {
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });
});
