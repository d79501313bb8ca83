/**
 * Base64url (RFC 4648 §5, no padding) for keys and signatures in headers and config. Decoding is
 * strict: only the url-safe alphabet, no padding, no whitespace; anything else throws.
 */
const VALID = /^[A-Za-z0-9_-]*$/;

export function encodeBase64url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
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
