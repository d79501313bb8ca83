/**
 * The provider dashboard's sign-in challenge: a nonce the gateway can check without storing it,
 * `<expiresAtMs>.<16 random bytes>.<HMAC-SHA256 of both>`, keyed by a secret of the deployment.
 * It is short-lived, and the sign-in page also binds it to a cookie, so a signature captured from
 * one browser is no use in another.
 */
import { decodeBase64url, encodeBase64url } from "../protocol/base64url";

export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
const LABEL = "meshgate/dashboard-wallet-challenge/v1:";
const encoder = new TextEncoder();

async function macKey(secret: string): Promise<CryptoKey> {
  // The label separates this use of the secret from every other.
  return crypto.subtle.importKey("raw", encoder.encode(LABEL + secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

export async function issueChallenge(secret: string, nowMs: number): Promise<string> {
  const body = `${nowMs + CHALLENGE_TTL_MS}.${encodeBase64url(crypto.getRandomValues(new Uint8Array(16)))}`;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await macKey(secret), encoder.encode(body)));
  return `${body}.${encodeBase64url(mac)}`;
}

/** true only for a nonce this secret issued that has not expired at `nowMs`. */
export async function checkChallenge(secret: string, nonce: string, nowMs: number): Promise<boolean> {
  const m = /^(\d{1,16})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(nonce);
  if (!m || Number(m[1]) < nowMs || Number(m[1]) > nowMs + CHALLENGE_TTL_MS) return false;
  let mac: Uint8Array<ArrayBuffer>;
  try {
    mac = decodeBase64url(m[3]!);
  } catch {
    return false;
  }
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify("HMAC", await macKey(secret), mac, encoder.encode(`${m[1]}.${m[2]}`));
}
