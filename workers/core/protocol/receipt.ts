/**
 * Usage receipts: what a provider attests it served for one request, EIP-712 signed by the
 * provider's wallet. The gateway verifies each receipt before billing, and the receipt's digest
 * is the Merkle leaf of the settlement batch.
 *
 * Wire form (`x-meshgate-receipt` header for JSON responses; for streams the final SSE event
 * `event: meshgate.receipt`, after [DONE]): `{"receipt":{…},"signature":"0x…"}` with the uint64
 * fields as decimal strings, or, for a receipt signed by the batch (receipt-batch.ts),
 * `{"receipt":{…},"signature":"0x…","batch":{"root":"0x…","proof":["0x…",…]}}` where the
 * signature is over the batch's root. For streams, `responseHash` covers the engine's SSE bytes
 * as forwarded, everything before the receipt event.
 */
import { getAddress, hashTypedData, isAddress, isAddressEqual, recoverAddress, type Hex, type TypedDataDomain } from "viem";
import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { BatchSigners, inReceiptBatch, MAX_BATCH_DEPTH, type ReceiptBatchPath } from "./receipt-batch";
import { RECEIPT_LAYOUT, receiptDigester, type Keccak } from "./receipt-digest";
import { sha256, toHexString } from "./sha256";

export const ReceiptTypes = {
  Receipt: [
    { name: "requestId", type: "string" },
    { name: "model", type: "string" },
    { name: "promptTokens", type: "uint32" },
    { name: "completionTokens", type: "uint32" },
    { name: "inputPrice", type: "uint64" }, // micro-USDC per million tokens
    { name: "outputPrice", type: "uint64" },
    { name: "provider", type: "address" },
    { name: "gateway", type: "address" },
    { name: "responseHash", type: "bytes32" },
    { name: "timestamp", type: "uint64" }, // ms since epoch
  ],
} as const;

export interface Receipt {
  requestId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** micro-USDC per million input tokens */
  inputPrice: bigint;
  /** micro-USDC per million output tokens */
  outputPrice: bigint;
  provider: `0x${string}`;
  gateway: `0x${string}`;
  responseHash: `0x${string}`;
  /** ms since epoch */
  timestamp: bigint;
}

export const RECEIPT_HEADER = "x-meshgate-receipt";
export const RECEIPT_EVENT = "meshgate.receipt";

/** name "Meshgate", version "1"; `verifyingContract` only when given (the settlement contract). */
export function receiptDomain(chainId: number, verifyingContract?: `0x${string}`): TypedDataDomain {
  return verifyingContract === undefined
    ? { name: "Meshgate", version: "1", chainId }
    : { name: "Meshgate", version: "1", chainId, verifyingContract };
}

const UINT32_MAX = 2 ** 32 - 1;
const UINT64_MAX = 2n ** 64n - 1n;
const uint32 = z.number().int().min(0).max(UINT32_MAX);
const uint64 = z
  .string()
  .regex(/^(0|[1-9]\d{0,19})$/, "expected a decimal uint64 string")
  .transform((s) => BigInt(s))
  .refine((n) => n <= UINT64_MAX, "exceeds uint64");
const address = z
  .string()
  .refine((s) => isAddress(s), "expected an address")
  .transform((s) => getAddress(s));
const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "expected 32 bytes of 0x-hex")
  .transform((s) => s as `0x${string}`);
const signature = z
  .string()
  .regex(/^0x[0-9a-fA-F]{130}$/, "expected a 65-byte 0x-hex signature")
  .transform((s) => s as Hex);

/** The wire form; parses to `{ receipt: Receipt; signature: Hex }` (addresses checksummed). */
export const SignedReceiptWire = z.object({
  receipt: z.object({
    requestId: z.string().min(1).max(256),
    model: z.string().min(1).max(256),
    promptTokens: uint32,
    completionTokens: uint32,
    inputPrice: uint64,
    outputPrice: uint64,
    provider: address,
    gateway: address,
    responseHash: bytes32,
    timestamp: uint64,
  }),
  signature,
  /** Present when `signature` is the provider's signature over a batch root (receipt-batch.ts). */
  batch: z.object({ root: bytes32, proof: z.array(bytes32).max(MAX_BATCH_DEPTH) }).optional(),
});
export type SignedReceiptWire = z.input<typeof SignedReceiptWire>;
export type SignedReceipt = z.output<typeof SignedReceiptWire>;

/** A receipt as JSON carries it: the uint64 fields as decimal strings. */
export function receiptWire(r: Receipt): SignedReceiptWire["receipt"] {
  return {
    requestId: r.requestId,
    model: r.model,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    inputPrice: r.inputPrice.toString(),
    outputPrice: r.outputPrice.toString(),
    provider: r.provider,
    gateway: r.gateway,
    responseHash: r.responseHash,
    timestamp: r.timestamp.toString(),
  };
}

/**
 * JSON with the uint64 fields as decimal strings. Non-ASCII characters are \u-escaped, so the
 * result is always a valid HTTP header value.
 */
export function encodeSignedReceipt(r: Receipt, signature: Hex, batch?: ReceiptBatchPath): string {
  const wire: SignedReceiptWire = batch ? { receipt: receiptWire(r), signature, batch } : { receipt: receiptWire(r), signature };
  return JSON.stringify(wire).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The receipt, signature and batch path from a header value or SSE data line, or null if malformed. */
export function decodeSignedReceipt(text: string): SignedReceipt | null {
  if (text.length > 8_192) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = SignedReceiptWire.safeParse(json);
  return parsed.success ? parsed.data : null;
}

function typedData(domain: TypedDataDomain, r: Receipt) {
  return { domain, types: ReceiptTypes, primaryType: "Receipt", message: r } as const;
}

/** Whether ReceiptTypes is still the struct receipt-digest.ts encodes (else viem's generic encoder digests). */
export const FIXED_DIGEST = ReceiptTypes.Receipt.map((f) => `${f.type} ${f.name}`).join(",") === RECEIPT_LAYOUT;

/** A digester for one domain (hashTypedData's bytes), with a faster keccak where the caller has one. */
export function receiptDigesterFor(domain: TypedDataDomain, keccak?: Keccak): (r: Receipt) => Hex {
  return FIXED_DIGEST ? receiptDigester(domain, keccak) : (r) => hashTypedData(typedData(domain, r));
}

const digesters = new Map<string, (r: Receipt) => Hex>();

/** The EIP-712 digest (hashTypedData's bytes): the settlement Merkle leaf. Throws on out-of-range fields. */
export function receiptDigest(domain: TypedDataDomain, r: Receipt): Hex {
  const key = `${domain.name}|${domain.version}|${domain.chainId}|${domain.verifyingContract ?? ""}`;
  let digest = digesters.get(key);
  if (!digest) {
    digest = receiptDigesterFor(domain);
    if (digesters.size < 16) digesters.set(key, digest);
  }
  return digest(r);
}

/** The provider's signature. Throws on out-of-range fields (viem validates the typed data). */
export async function signReceipt(account: LocalAccount, domain: TypedDataDomain, r: Receipt): Promise<Hex> {
  return account.signTypedData(typedData(domain, r));
}

/**
 * true only if this receipt is `expectedSigner`'s: its signature over the receipt recovers to it,
 * or, with a batch path, the receipt's digest is a leaf of that root and the signature over the
 * root recovers to it (`signers` remembers roots already recovered). false on any malformed input.
 */
export async function verifyReceipt(
  domain: TypedDataDomain,
  r: Receipt,
  signature: Hex,
  expectedSigner: `0x${string}`,
  batched?: { batch?: ReceiptBatchPath | undefined; signers?: BatchSigners },
): Promise<boolean> {
  try {
    const batch = batched?.batch;
    if (batch) {
      if (!inReceiptBatch(receiptDigest(domain, r), batch)) return false;
      const signer = await (batched.signers ?? new BatchSigners(1)).signerOf(domain, batch.root, signature);
      return signer !== null && isAddressEqual(signer, expectedSigner);
    }
    const signer = await recoverAddress({ hash: receiptDigest(domain, r), signature });
    return isAddressEqual(signer, expectedSigner);
  } catch {
    return false;
  }
}

/** sha256 of the bytes the engine returned, 0x-hex (the receipt's `responseHash`). */
export async function responseHash(body: Uint8Array | string): Promise<Hex> {
  return `0x${toHexString(await sha256(body))}`;
}
