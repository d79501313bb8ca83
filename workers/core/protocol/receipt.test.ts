import { concat, encodeAbiParameters, hashTypedData, keccak256, recoverAddress, toBytes, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  decodeSignedReceipt,
  encodeSignedReceipt,
  RECEIPT_EVENT,
  RECEIPT_HEADER,
  receiptDigest,
  receiptDomain,
  ReceiptTypes,
  responseHash,
  signReceipt,
  SignedReceiptWire,
  verifyReceipt,
  type Receipt,
} from "./receipt";

// Anvil's well-known dev keys: test-only.
const provider = privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const other = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const SETTLEMENT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const domain = receiptDomain(8453, SETTLEMENT);

const receipt: Receipt = {
  requestId: "gen-abc123",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  promptTokens: 1_234,
  completionTokens: 567,
  inputPrice: 200_000n,
  outputPrice: 600_000n,
  provider: provider.address,
  gateway: other.address,
  responseHash: "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  timestamp: 1_750_000_000_000n,
};

describe("receipt signing", () => {
  it("builds the Meshgate domain, with the contract only when given", () => {
    expect(receiptDomain(1)).toEqual({ name: "Meshgate", version: "1", chainId: 1 });
    expect("verifyingContract" in receiptDomain(1)).toBe(false);
    expect(domain).toEqual({ name: "Meshgate", version: "1", chainId: 8453, verifyingContract: SETTLEMENT });
  });

  it("verifies what it signs", async () => {
    const sig = await signReceipt(provider, domain, receipt);
    expect(sig).toMatch(/^0x[0-9a-f]{130}$/);
    expect(await verifyReceipt(domain, receipt, sig, provider.address)).toBe(true);
    expect(await verifyReceipt(domain, receipt, sig, provider.address.toLowerCase() as Hex)).toBe(true);
  });

  const tampered: [keyof Receipt, Receipt[keyof Receipt]][] = [
    ["requestId", "gen-abc124"],
    ["model", "meta-llama/Llama-3.1-70B-Instruct"],
    ["promptTokens", 1_235],
    ["completionTokens", 566],
    ["inputPrice", 200_001n],
    ["outputPrice", 599_999n],
    ["provider", other.address],
    ["gateway", provider.address],
    ["responseHash", "0xca7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["timestamp", 1_750_000_000_001n],
  ];
  it.each(tampered)("rejects a changed %s", async (field, value) => {
    const sig = await signReceipt(provider, domain, receipt);
    expect(await verifyReceipt(domain, { ...receipt, [field]: value }, sig, provider.address)).toBe(false);
  });

  it("covers every field of ReceiptTypes", () => {
    expect(tampered.map(([f]) => f).sort()).toEqual(ReceiptTypes.Receipt.map((f) => f.name).sort());
  });

  it("rejects another signer, another chain and another contract", async () => {
    const sig = await signReceipt(provider, domain, receipt);
    expect(await verifyReceipt(domain, receipt, sig, other.address)).toBe(false);
    expect(await verifyReceipt(domain, receipt, await signReceipt(other, domain, receipt), provider.address)).toBe(false);
    expect(await verifyReceipt(receiptDomain(1, SETTLEMENT), receipt, sig, provider.address)).toBe(false);
    expect(await verifyReceipt(receiptDomain(8453), receipt, sig, provider.address)).toBe(false);
  });

  it("returns false, not an error, for malformed signatures and receipts", async () => {
    const sig = await signReceipt(provider, domain, receipt);
    for (const bad of ["0x", "0x1234", `${sig.slice(0, -2)}ff`, `0x${"00".repeat(65)}`] as Hex[]) {
      expect(await verifyReceipt(domain, receipt, bad, provider.address)).toBe(false);
    }
    expect(await verifyReceipt(domain, { ...receipt, promptTokens: 2 ** 32 }, sig, provider.address)).toBe(false);
    expect(await verifyReceipt(domain, { ...receipt, gateway: "0x1234" }, sig, provider.address)).toBe(false);
  });

  it.each([
    ["promptTokens", 2 ** 32],
    ["completionTokens", -1],
    ["inputPrice", -1n],
    ["outputPrice", 2n ** 64n],
    ["timestamp", 2n ** 64n],
    ["responseHash", "0x1234"],
  ] as const)("refuses to sign an out-of-range %s", async (field, value) => {
    await expect(signReceipt(provider, domain, { ...receipt, [field]: value })).rejects.toThrow();
  });
});

describe("receiptDigest", () => {
  it("is viem's hashTypedData, stable, and what the signature recovers from", async () => {
    const digest = receiptDigest(domain, receipt);
    expect(digest).toBe(hashTypedData({ domain, types: ReceiptTypes, primaryType: "Receipt", message: receipt }));
    expect(digest).toBe("0x266a54d585f41ce3917dcfa0d760a94848eaf8e77ec2bb844232ea305325c387");
    const sig = await signReceipt(provider, domain, receipt);
    expect(await recoverAddress({ hash: digest, signature: sig })).toBe(provider.address);
  });

  it("matches the EIP-712 encoding a Solidity verifier computes by hand", () => {
    const k = (s: string) => keccak256(toBytes(s));
    const domainSeparator = keccak256(
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "address" }],
        [k("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"), k("Meshgate"), k("1"), 8453n, SETTLEMENT],
      ),
    );
    const typeHash = k(
      "Receipt(string requestId,string model,uint32 promptTokens,uint32 completionTokens,uint64 inputPrice,uint64 outputPrice,address provider,address gateway,bytes32 responseHash,uint64 timestamp)",
    );
    const structHash = keccak256(
      encodeAbiParameters(
        ["bytes32", "bytes32", "bytes32", "uint32", "uint32", "uint64", "uint64", "address", "address", "bytes32", "uint64"].map(
          (type) => ({ type }),
        ),
        [
          typeHash,
          k(receipt.requestId),
          k(receipt.model),
          receipt.promptTokens,
          receipt.completionTokens,
          receipt.inputPrice,
          receipt.outputPrice,
          receipt.provider,
          receipt.gateway,
          receipt.responseHash,
          receipt.timestamp,
        ],
      ),
    );
    expect(keccak256(concat(["0x1901", domainSeparator, structHash]))).toBe(receiptDigest(domain, receipt));
  });

  it("changes with the domain", () => {
    expect(receiptDigest(receiptDomain(1, SETTLEMENT), receipt)).not.toBe(receiptDigest(domain, receipt));
  });
});

describe("responseHash", () => {
  it("is sha256 as 0x-hex, of a string's UTF-8 or of bytes", async () => {
    expect(await responseHash("abc")).toBe("0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await responseHash(new TextEncoder().encode("data: é\n\n"))).toBe(await responseHash("data: é\n\n"));
    expect(await responseHash("")).toBe("0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

describe("receipt wire format", () => {
  it("names the header and the SSE event", () => {
    expect(RECEIPT_HEADER).toBe("x-meshgate-receipt");
    expect(RECEIPT_EVENT).toBe("meshgate.receipt");
  });

  it("round-trips, with uint64 extremes as decimal strings", async () => {
    const big: Receipt = { ...receipt, inputPrice: 2n ** 64n - 1n, outputPrice: 0n, promptTokens: 2 ** 32 - 1, completionTokens: 0 };
    const sig = await signReceipt(provider, domain, big);
    const text = encodeSignedReceipt(big, sig);
    expect(JSON.parse(text).receipt.inputPrice).toBe("18446744073709551615");
    expect(decodeSignedReceipt(text)).toEqual({ receipt: big, signature: sig });
    expect(await verifyReceipt(domain, decodeSignedReceipt(text)!.receipt, sig, provider.address)).toBe(true);
  });

  it("is a valid header value even for non-ASCII model names", async () => {
    const r = { ...receipt, model: "modèle-日本-🚀" };
    const text = encodeSignedReceipt(r, await signReceipt(provider, domain, r));
    expect(text).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeSignedReceipt(text)?.receipt.model).toBe("modèle-日本-🚀");
  });

  it("checksums addresses, which does not change the digest", async () => {
    const sig = await signReceipt(provider, domain, receipt);
    const wire = JSON.parse(encodeSignedReceipt(receipt, sig));
    wire.receipt.provider = wire.receipt.provider.toLowerCase();
    const decoded = decodeSignedReceipt(JSON.stringify(wire))!;
    expect(decoded.receipt.provider).toBe(provider.address);
    expect(await verifyReceipt(domain, decoded.receipt, decoded.signature, provider.address)).toBe(true);
  });

  const valid = () => JSON.parse(encodeSignedReceipt(receipt, `0x${"11".repeat(65)}`));
  const withField = (field: string, value: unknown) => {
    const w = valid();
    if (value === undefined) delete w.receipt[field];
    else w.receipt[field] = value;
    return JSON.stringify(w);
  };
  it.each([
    ["not JSON", "{receipt"],
    ["a JSON string", '"x"'],
    ["no signature", JSON.stringify({ receipt: valid().receipt })],
    ["a short signature", JSON.stringify({ ...valid(), signature: "0x1234" })],
    ["a non-hex signature", JSON.stringify({ ...valid(), signature: `0x${"zz".repeat(65)}` })],
    ["a missing field", withField("model", undefined)],
    ["an empty request id", withField("requestId", "")],
    ["negative tokens", withField("promptTokens", -1)],
    ["fractional tokens", withField("completionTokens", 1.5)],
    ["tokens beyond uint32", withField("promptTokens", 2 ** 32)],
    ["tokens as a string", withField("promptTokens", "12")],
    ["a price as a number", withField("inputPrice", 200000)],
    ["a negative price", withField("inputPrice", "-1")],
    ["a price with leading zeros", withField("outputPrice", "0600000")],
    ["a decimal price", withField("outputPrice", "1.5")],
    ["a price beyond uint64", withField("inputPrice", "18446744073709551616")],
    ["a timestamp as a number", withField("timestamp", 1750000000000)],
    ["a bad address", withField("provider", "0x1234")],
    [
      "a bad checksum",
      withField(
        "gateway",
        receipt.gateway.replace(/[a-f]/, (c) => c.toUpperCase()),
      ),
    ],
    ["a short response hash", withField("responseHash", "0xabcd")],
    ["an unprefixed response hash", withField("responseHash", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")],
    ["oversized input", JSON.stringify({ ...valid(), pad: "x".repeat(9_000) })],
  ])("rejects %s", (_, text) => {
    expect(decodeSignedReceipt(text)).toBeNull();
  });

  it("parses through the zod schema directly", () => {
    const parsed = SignedReceiptWire.parse(valid());
    expect(parsed.receipt.timestamp).toBe(1_750_000_000_000n);
  });
});
