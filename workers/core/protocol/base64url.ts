/**
 * Base64url (RFC 4648 §5, no padding) for keys and signatures in headers and config. Decoding is
 * strict: only the url-safe alphabet, no padding, no whitespace; anything else throws.
 */
const VALID = /^[A-Za-z0-9_-]*$/;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** The two characters of every 12-bit value: three bytes are two look-ups. */
const PAIRS = Array.from({ length: 4096 }, (_, v) => ALPHABET[v >> 6]! + ALPHABET[v & 63]!);

/** Table-driven: no binary string, no btoa, no regex passes over the result. */
export function encodeBase64url(bytes: Uint8Array): string {
  const n = bytes.length;
  let out = "";
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += PAIRS[v >> 12]! + PAIRS[v & 0xfff]!;
  }
  if (n - i === 1) out += PAIRS[bytes[i]! << 4]!;
  else if (n - i === 2) {
    const v = (bytes[i]! << 8) | bytes[i + 1]!;
    out += PAIRS[v >> 4]! + ALPHABET[(v & 0xf) << 2]!;
  }
  return out;
}

export function decodeBase64url(text: string): Uint8Array<ArrayBuffer> {
  if (!VALID.test(text) || text.length % 4 === 1) throw new TypeError("Invalid base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  // Reject non-canonical trailing bits, so that each byte string has exactly one spelling.
  if (encodeBase64url(out) !== text) throw new TypeError("Invalid base64url");
  return out;
}
