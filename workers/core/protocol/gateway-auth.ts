/**
 * Gateway → provider request authentication: Ed25519 over WebCrypto, one signature per request.
 *
 * The signed string is `meshgate-request-v1\n{METHOD}\n{path}\n{requestId}\n{timestampMs}\n{sha256 hex of body}`.
 * `path` is the request target as the runtime sees it: URL pathname plus search (`/v1/chat/completions`),
 * signed verbatim. METHOD is upper-cased on both sides. The signer refuses fields that contain
 * line breaks or other control characters, so every signed string parses back into one tuple.
 *
 * The signer (the gateway, in workerd) hashes the body with WebCrypto's digest, native and run on
 * the calling thread there; the verifier (the provider agent, in Node) keeps ./sha256's choice,
 * which hashes small bodies in JS to spare Node's thread-pool round trip. The bytes are the same.
 */
import { decodeBase64url, encodeBase64url } from "./base64url";
import type { ReplayGuard } from "./replay-guard";
import { sha256, toHexString } from "./sha256";

export { ReplayGuard } from "./replay-guard";

export const GATEWAY_AUTH_HEADERS = {
  requestId: "x-meshgate-request-id",
  timestamp: "x-meshgate-timestamp",
  signature: "x-meshgate-signature",
} as const;

export type GatewayAuthResult =
  | { ok: true; requestId: string }
  | { ok: false; reason: "missing_headers" | "bad_timestamp" | "expired" | "bad_signature" | "replayed" };

export interface GatewayRequestToSign {
  method: string;
  path: string;
  requestId: string;
  timestampMs: number;
  body: Uint8Array | string;
}

/**
 * A verifier in place of a WebCrypto key: Node's synchronous Ed25519 and SHA-256 (the agent's,
 * provider-runtime/src/gateway-auth.ts) spare the thread-pool round trip WebCrypto takes there.
 */
export interface GatewaySignatureVerifier {
  verify(signature: Uint8Array, data: Uint8Array): boolean;
  sha256(body: Uint8Array | string): Uint8Array;
}

export interface GatewayRequestToVerify {
  method: string;
  path: string;
  headers: (name: string) => string | null | undefined;
  body: Uint8Array | string;
}

const ED25519 = { name: "Ed25519" } as const;
const DEFAULT_WINDOW_MS = 30_000;
const encoder = new TextEncoder();
const METHOD = /^[A-Za-z]{1,16}$/;
const PATH = /^\/[\x21-\x7e]*$/;
const REQUEST_ID = /^[\x21-\x7e]{1,256}$/;
const TIMESTAMP = /^\d{1,15}$/;

export async function generateGatewayKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = (await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer;
  const raw = (await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer;
  return { privateKey: encodeBase64url(new Uint8Array(pkcs8)), publicKey: encodeBase64url(new Uint8Array(raw)) };
}

/** The gateway's private key (base64url PKCS#8), non-extractable, for signing only. */
export async function importGatewaySigningKey(pkcs8Base64url: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", decodeBase64url(pkcs8Base64url), ED25519, false, ["sign"]);
}

/** The gateway's public key (base64url of the raw 32 bytes), for verifying only. */
export async function importGatewayVerifyKey(rawBase64url: string): Promise<CryptoKey> {
  const raw = decodeBase64url(rawBase64url);
  if (raw.length !== 32) throw new TypeError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  return crypto.subtle.importKey("raw", raw, ED25519, true, ["verify"]);
}

function signedString(method: string, path: string, requestId: string, timestamp: string, bodyHash: Uint8Array) {
  return encoder.encode(`meshgate-request-v1\n${method.toUpperCase()}\n${path}\n${requestId}\n${timestamp}\n${toHexString(bodyHash)}`);
}

/** SHA-256 of the body by WebCrypto (the signer's hash; see the note above). */
async function digest(body: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** The three `x-meshgate-*` headers for one forwarded request. Throws on malformed fields. */
export async function signGatewayRequest(key: CryptoKey, req: GatewayRequestToSign): Promise<Record<string, string>> {
  if (!METHOD.test(req.method)) throw new TypeError(`Invalid method '${req.method}'`);
  if (!PATH.test(req.path)) throw new TypeError("Invalid path: must start with / and be printable ASCII without spaces");
  if (!REQUEST_ID.test(req.requestId)) throw new TypeError("Invalid request id: 1-256 printable ASCII characters without spaces");
  if (!Number.isSafeInteger(req.timestampMs) || req.timestampMs < 0) throw new TypeError(`Invalid timestamp ${req.timestampMs}`);
  const timestamp = String(req.timestampMs);
  const data = signedString(req.method, req.path, req.requestId, timestamp, await digest(req.body));
  const signature = new Uint8Array(await crypto.subtle.sign(ED25519, key, data));
  return {
    [GATEWAY_AUTH_HEADERS.requestId]: req.requestId,
    [GATEWAY_AUTH_HEADERS.timestamp]: timestamp,
    [GATEWAY_AUTH_HEADERS.signature]: encodeBase64url(signature),
  };
}

/**
 * Checks, in order: the headers are present, the timestamp is a decimal within `windowMs` of
 * `nowMs` (edges included), the signature covers this method, path, request id, timestamp and body,
 * and the request id was not seen in its window. Only authentic requests are remembered.
 */
export async function verifyGatewayRequest(
  key: CryptoKey | GatewaySignatureVerifier,
  req: GatewayRequestToVerify,
  nowMs: number,
  replay: ReplayGuard,
  windowMs: number = DEFAULT_WINDOW_MS,
): Promise<GatewayAuthResult> {
  const requestId = req.headers(GATEWAY_AUTH_HEADERS.requestId);
  const timestamp = req.headers(GATEWAY_AUTH_HEADERS.timestamp);
  const signature = req.headers(GATEWAY_AUTH_HEADERS.signature);
  if (!requestId || !timestamp || !signature) return { ok: false, reason: "missing_headers" };
  if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
  const timestampMs = Number(timestamp);
  if (Math.abs(nowMs - timestampMs) > windowMs) return { ok: false, reason: "expired" };
  if (!REQUEST_ID.test(requestId) || !METHOD.test(req.method) || !PATH.test(req.path)) return { ok: false, reason: "bad_signature" };
  let sig: Uint8Array<ArrayBuffer>;
  try {
    sig = decodeBase64url(signature);
  } catch {
    return { ok: false, reason: "bad_signature" };
  }
  if (sig.length !== 64) return { ok: false, reason: "bad_signature" };
  const own = "sha256" in key ? key : null;
  const data = signedString(req.method, req.path, requestId, timestamp, own ? own.sha256(req.body) : await sha256(req.body));
  const genuine = own ? own.verify(sig, data) : await crypto.subtle.verify(ED25519, key as CryptoKey, sig, data);
  if (!genuine) return { ok: false, reason: "bad_signature" };
  if (!replay.checkAndRemember(requestId, nowMs, timestampMs + windowMs + 1)) return { ok: false, reason: "replayed" };
  return { ok: true, requestId };
}
