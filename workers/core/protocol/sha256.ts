/**
 * SHA-256 of bytes or of a string's UTF-8 encoding. Small inputs are hashed synchronously (viem's
 * pure sha256): WebCrypto's digest costs ~35 µs per call in Node whatever the size, which is more
 * than hashing a few KB in JS. Larger inputs go to `crypto.subtle`.
 */
import { sha256 as sha256Sync } from "viem";

const encoder = new TextEncoder();
const SYNC_MAX_BYTES = 4_096;

export async function sha256(body: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  if (bytes.length <= SYNC_MAX_BYTES) return sha256Sync(bytes, "bytes");
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex, no prefix. */
export function toHexString(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}
