/**
 * Only the gateway may use this provider: every inference request must carry a fresh Ed25519
 * signature by the gateway's request key (SPEC §1) over its method, path, request id, timestamp
 * and body, and a request id is accepted once. Checked before the engine sees anything.
 */
import type { IncomingMessage } from "node:http";
import {
  importGatewayVerifyKey,
  ReplayGuard,
  verifyGatewayRequest,
  type GatewayAuthResult,
} from "../../workers/core/protocol/gateway-auth";

export interface GatewayAuth {
  verify(req: IncomingMessage, body: Uint8Array): Promise<GatewayAuthResult>;
}

/** `requestKey`: the base64url raw public key from GET /providers/v1/gateway. */
export async function createGatewayAuth(requestKey: string, now: () => number = Date.now): Promise<GatewayAuth> {
  const key = await importGatewayVerifyKey(requestKey);
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
