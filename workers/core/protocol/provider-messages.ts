/**
 * Provider → gateway control messages (register, heartbeat, deregister, receipt batches), each
 * `{ payload, signature }` where the provider's wallet signs, with EIP-712, the message kind, its
 * address, the payload's timestamp and keccak256 of the payload's canonical JSON.
 *
 * Verify the payload exactly as received (the JSON.parse result), before parsing it with the
 * schemas below: parsing strips unknown keys and fills defaults (heartbeat `draining`), which changes
 * the hash. The gateway also checks `|now - timestamp| ≤ 60 s`, and that heartbeat timestamps increase.
 */
import { bytesToHex, isAddress, isAddressEqual, keccak256, recoverTypedDataAddress, toBytes, type Hex, type TypedDataDomain } from "viem";
import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { parseUsdcPerMTok } from "../money/pricing";
import { canonicalJson } from "./canonical-json";
import { Address, Signature } from "../wire";

export { canonicalJson } from "./canonical-json";

const UsdcPerMTok = z.string().refine((s) => {
  try {
    parseUsdcPerMTok(s);
    return true;
  } catch {
    return false;
  }
}, "expected a decimal USDC per million tokens, at most 6 decimals");
const ProviderId = z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/);
const TimestampMs = z.number().int();

export const ProviderModelOffer = z.object({
  model: z.string().min(1),
  endpoints: z.array(z.enum(["chat", "completions", "embeddings"])).min(1),
  /** USDC per million tokens, decimal ("0.20") */
  input_price: UsdcPerMTok,
  output_price: UsdcPerMTok,
  context_length: z.number().int().positive(),
});
export type ProviderModelOffer = z.infer<typeof ProviderModelOffer>;

export const RegisterPayload = z.object({
  id: ProviderId,
  address: Address,
  url: z.string().url(),
  region: z.string().max(64),
  gpu: z.record(z.string(), z.unknown()).nullable(),
  max_concurrency: z.number().int().positive(),
  models: z.array(ProviderModelOffer).min(1).max(32),
  timestamp: TimestampMs,
});
export type RegisterPayload = z.infer<typeof RegisterPayload>;

export const HeartbeatPayload = z.object({
  id: ProviderId,
  address: Address,
  timestamp: TimestampMs,
  load: z.object({
    running: z.number().int().min(0),
    waiting: z.number().int().min(0),
    kv_cache_usage: z.number().min(0).max(1),
    tokens_served: z.number().int().min(0),
  }),
  draining: z.boolean().default(false),
});
export type HeartbeatPayload = z.infer<typeof HeartbeatPayload>;

/** `{ payload, signature }` for a payload schema. */
export const SignedMessage = <T extends z.ZodType>(payload: T) => z.object({ payload, signature: Signature });

/**
 * "dashboard": a provider signs in to its dashboard; the payload is `{ address, timestamp, nonce }` (the gateway's challenge).
 * "endpoint": the agent at an endpoint proves it holds the registering wallet (endpoint-challenge.ts).
 */
export type ProviderMessageKind = "register" | "heartbeat" | "deregister" | "receipts" | "proof" | "dashboard" | "endpoint";

/**
 * A signed GET (the receipt proof) carries its message in headers: the payload is
 * `{ address, timestamp, request_id }` rebuilt from them and the path, signed as kind "proof".
 */
/** Signed messages older or newer than this are refused: a captured message cannot be replayed later. */
export const MESSAGE_WINDOW_MS = 60_000;

export const SIGNED_GET_HEADERS = {
  address: "x-meshgate-address",
  timestamp: "x-meshgate-timestamp",
  signature: "x-meshgate-signature",
} as const;

export const ProviderMessageTypes = {
  ProviderMessage: [
    { name: "kind", type: "string" },
    { name: "provider", type: "address" },
    { name: "payloadHash", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;

/** name "Meshgate Provider", version "1". */
export function providerMessageDomain(chainId: number): TypedDataDomain {
  return { name: "Meshgate Provider", version: "1", chainId };
}

interface SignablePayload {
  address: Hex;
  timestamp: number;
}

/** keccak-256 of bytes; a signer may bring a faster one than viem's (the agent's is WebAssembly). */
export type Keccak256 = (bytes: Uint8Array) => Uint8Array;
const viemKeccak: Keccak256 = (bytes) => keccak256(bytes, "bytes");

/** The EIP-712 typed data a provider message is signed as (a browser wallet is handed this to sign). */
export function providerTypedData(chainId: number, kind: ProviderMessageKind, payload: SignablePayload, keccak: Keccak256 = viemKeccak) {
  return {
    domain: providerMessageDomain(chainId),
    types: ProviderMessageTypes,
    primaryType: "ProviderMessage",
    message: {
      kind,
      provider: payload.address,
      payloadHash: bytesToHex(keccak(toBytes(canonicalJson(payload)))),
      timestamp: BigInt(payload.timestamp),
    },
  } as const;
}

/**
 * Signs `payload` as sent (payloadHash = keccak256(canonicalJson(payload))). The account must be
 * `payload.address`. `keccak` hashes the payload (a receipts post is ~1 MB under load).
 */
export async function signProviderMessage(
  account: LocalAccount,
  chainId: number,
  kind: ProviderMessageKind,
  payload: SignablePayload,
  keccak?: Keccak256,
): Promise<Hex> {
  if (!isAddress(payload.address) || !isAddressEqual(account.address, payload.address)) {
    throw new Error(`payload.address ${String(payload.address)} is not the signing account ${account.address}`);
  }
  if (!Number.isSafeInteger(payload.timestamp) || payload.timestamp < 0) throw new RangeError(`Invalid timestamp ${payload.timestamp}`);
  return account.signTypedData(providerTypedData(chainId, kind, payload, keccak));
}

/** true only if `signature` recovers to `payload.address` for this kind and payload; false on any malformed input. */
export async function verifyProviderMessage(
  chainId: number,
  kind: ProviderMessageKind,
  payload: SignablePayload,
  signature: Hex,
): Promise<boolean> {
  try {
    if (!isAddress(payload.address)) return false;
    if (!Number.isSafeInteger(payload.timestamp) || payload.timestamp < 0) return false;
    const signer = await recoverTypedDataAddress({ ...providerTypedData(chainId, kind, payload), signature });
    return isAddressEqual(signer, payload.address);
  } catch {
    return false;
  }
}
