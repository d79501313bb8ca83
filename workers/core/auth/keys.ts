/**
 * API key secrets: `mg-` + 40 characters. Only the SHA-256 (hex) and a short prefix are
 * stored; the secret is shown once, at creation.
 */
const encoder = new TextEncoder();
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const KEY_PREFIX = "mg-";
const SECRET_LENGTH = 40;

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares two strings in time that depends only on their length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a),
    y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** A fresh secret from the platform's CSPRNG, without modulo bias (rejection sampling). */
export function newKeySecret(): string {
  let out = KEY_PREFIX;
  while (out.length < KEY_PREFIX.length + SECRET_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(64))) {
      if (byte < 248 && out.length < KEY_PREFIX.length + SECRET_LENGTH) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export const keyDisplayPrefix = (secret: string) => secret.slice(0, KEY_PREFIX.length + 6);

/** Bearer token from an Authorization header, or null. */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

/** An API key as the request path sees it: who it belongs to, what it may do, its limits. */
export interface KeyRecord {
  id: string;
  accountId: string;
  role: "inference" | "finance";
  /** account: sees its own account; all: an operator's finance key (every account, the provider side). */
  scope: "account" | "all";
  revoked: boolean;
  allowedModels: string[] | null;
  /** Requests and tokens per minute; null: no limit. */
  rpm: number | null;
  tpm: number | null;
  /** The key's spending cap per calendar month (pico-USDC); null: the account balance only. */
  budgetPico: bigint | null;
  /** SHA-256 (hex) of the secret, for the constant-time check. */
  secretHash: string;
}

/** A key to create: its secret only as a hash and a display prefix. */
export interface NewKey {
  accountId: string;
  name: string;
  role: "inference" | "finance";
  scope: "account" | "all";
  prefix: string;
  secretHash: string;
  budgetPico: bigint | null;
  rpm: number | null;
  tpm: number | null;
  allowedModels: string[] | null;
}
