/**
 * The EIP-712 digest of a receipt, encoded for this one fixed struct: the same bytes as viem's
 * hashTypedData (tests check it field for field), at a third of its cost, because the generic
 * encoder validates and walks the types on every call. The gateway digests every receipt it
 * judges and the agent every receipt it signs. The domain separator and type hash are computed
 * once per domain; a model's hash is remembered. Fields out of their Solidity range throw, as
 * viem's encoder does.
 */
// A type-only import: receipt.ts builds its receiptDigest from this module.
import type { Receipt } from "./receipt";
import { bytesToHex, getTypesForEIP712Domain, hashStruct, hexToBytes, isHex, keccak256, type Hex, type TypedDataDomain } from "viem";

/** keccak-256 of bytes (the agent brings a faster one than viem's). */
export type Keccak = (bytes: Uint8Array) => Uint8Array;

/** The struct the encoder is written for; receipt.ts checks its ReceiptTypes against it. */
export const RECEIPT_LAYOUT =
  "string requestId,string model,uint32 promptTokens,uint32 completionTokens,uint64 inputPrice,uint64 outputPrice," +
  "address provider,address gateway,bytes32 responseHash,uint64 timestamp";

const UINT64_MAX = 2n ** 64n - 1n;
const viemKeccak: Keccak = (bytes) => keccak256(bytes, "bytes");

function uint32(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError(`${name} ${n} is not a uint32`);
  return n;
}
function uint64(name: string, n: bigint): bigint {
  if (typeof n !== "bigint" || n < 0n || n > UINT64_MAX) throw new RangeError(`${name} ${String(n)} is not a uint64`);
  return n;
}
function fixedHex(name: string, s: string, bytes: number): Uint8Array {
  if (!isHex(s, { strict: true }) || s.length !== 2 + 2 * bytes) throw new TypeError(`${name} is not ${bytes} bytes of 0x-hex`);
  return hexToBytes(s);
}

export function receiptDigester(domain: TypedDataDomain, keccak: Keccak = viemKeccak): (r: Receipt) => Hex {
  const typeHash = keccak256(new TextEncoder().encode(`Receipt(${RECEIPT_LAYOUT})`), "bytes");
  const domainSeparator = hexToBytes(
    hashStruct({ data: domain, primaryType: "EIP712Domain", types: { EIP712Domain: getTypesForEIP712Domain({ domain }) } }),
  );
  const encoder = new TextEncoder();
  const modelHashes = new Map<string, Uint8Array>();
  const text = (s: string) => keccak(encoder.encode(s));
  return (r) => {
    const words = new Uint8Array(32 * 11);
    const view = new DataView(words.buffer);
    words.set(typeHash, 0);
    words.set(text(r.requestId), 32);
    let model = modelHashes.get(r.model);
    if (!model) {
      model = text(r.model);
      if (modelHashes.size < 64) modelHashes.set(r.model, model);
    }
    words.set(model, 64);
    view.setUint32(96 + 28, uint32("promptTokens", r.promptTokens));
    view.setUint32(128 + 28, uint32("completionTokens", r.completionTokens));
    view.setBigUint64(160 + 24, uint64("inputPrice", r.inputPrice));
    view.setBigUint64(192 + 24, uint64("outputPrice", r.outputPrice));
    words.set(fixedHex("provider", r.provider, 20), 224 + 12);
    words.set(fixedHex("gateway", r.gateway, 20), 256 + 12);
    words.set(fixedHex("responseHash", r.responseHash, 32), 288);
    view.setBigUint64(320 + 24, uint64("timestamp", r.timestamp));
    const message = new Uint8Array(66);
    message[0] = 0x19;
    message[1] = 0x01;
    message.set(domainSeparator, 2);
    message.set(keccak(words), 34);
    return bytesToHex(keccak(message));
  };
}
