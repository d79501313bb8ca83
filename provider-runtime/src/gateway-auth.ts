/**
 * Only the gateway may use this provider: every inference request must carry a fresh Ed25519
 * signature by the gateway's request key (SPEC §1) over its method, path, request id, timestamp
 * and body, and a request id is accepted once. Checked before the engine sees anything.
 */
import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { decodeBase64url } from "../../workers/core/protocol/base64url";
import {
  ReplayGuard,
  verifyGatewayRequest,
  type GatewayAuthResult,
  type GatewaySignatureVerifier,
} from "../../workers/core/protocol/gateway-auth";

export interface GatewayAuth {
  verify(req: IncomingMessage, body: Uint8Array): Promise<GatewayAuthResult>;
}

/** `requestKey`: the base64url raw public key from GET /providers/v1/gateway. */
export async function createGatewayAuth(requestKey: string, now: () => number = Date.now): Promise<GatewayAuth> {
  const key = nodeVerifier(requestKey);
  const replay = new ReplayGuard();
  return {
    verify(req, body) {
      const headers = (name: string) => {
        const v = req.headers[name];
        return typeof v === "string" ? v : undefined;
      };
      // The path is signed verbatim: the request target as received (pathname plus search).
      return verifyGatewayRequest(key, { method: req.method ?? "", path: req.url ?? "", headers, body }, now(), replay);
    },
  };
}

/**
 * Node's own Ed25519 and SHA-256, both synchronous and native: WebCrypto in Node queues every
 * verify on the thread pool and resolves a promise (≈ 15 % of the agent's CPU under load).
 */
export function nodeVerifier(rawBase64url: string): GatewaySignatureVerifier {
  const raw = decodeBase64url(rawBase64url);
  if (raw.length !== 32) throw new TypeError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: rawBase64url }, format: "jwk" });
  return {
    verify: (signature, data) => verifySignature(null, data, key, signature),
    sha256: (body) => createHash("sha256").update(body).digest(),
  };
}
