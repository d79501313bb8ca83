import { describe, expect, it } from "vitest";
import { encodeBase64url } from "../../workers/core/protocol/base64url";
import {
  generateGatewayKeyPair,
  importGatewaySigningKey,
  importGatewayVerifyKey,
  ReplayGuard,
  signGatewayRequest,
  verifyGatewayRequest,
} from "../../workers/core/protocol/gateway-auth";
import { nodeVerifier } from "./gateway-auth";

const NOW = 1_750_000_000_000;
const REQ = { method: "POST", path: "/v1/chat/completions?x=1", requestId: "gen-node-1", timestampMs: NOW };

describe("the agent's Node verifier of gateway signatures", () => {
  it("agrees with WebCrypto on genuine and altered requests, for string and byte bodies", async () => {
    const pair = await generateGatewayKeyPair();
    const signing = await importGatewaySigningKey(pair.privateKey);
    const keys = { node: nodeVerifier(pair.publicKey), webcrypto: await importGatewayVerifyKey(pair.publicKey) };
    const other = nodeVerifier((await generateGatewayKeyPair()).publicKey);
    const bodies: (string | Uint8Array)[] = ['{"messages":[{"content":"héllo ✓"}]}', "", new Uint8Array(70_000).fill(7)];
    for (const body of bodies) {
      const headers = await signGatewayRequest(signing, { ...REQ, body });
      const check = (key: Parameters<typeof verifyGatewayRequest>[0], over: { body?: string | Uint8Array; path?: string } = {}) =>
        verifyGatewayRequest(
          key,
          { method: "POST", path: over.path ?? REQ.path, headers: (n) => headers[n], body: over.body ?? body },
          NOW,
          new ReplayGuard(),
        );
      for (const key of [keys.node, keys.webcrypto]) {
        expect(await check(key)).toEqual({ ok: true, requestId: REQ.requestId });
        expect(await check(key, { body: typeof body === "string" ? `${body} ` : new Uint8Array(3) })).toEqual({
          ok: false,
          reason: "bad_signature",
        });
        expect(await check(key, { path: "/v1/completions" })).toEqual({ ok: false, reason: "bad_signature" });
      }
      expect(await check(other)).toEqual({ ok: false, reason: "bad_signature" });
    }
  });

  it("still refuses a replayed request id", async () => {
    const pair = await generateGatewayKeyPair();
    const headers = await signGatewayRequest(await importGatewaySigningKey(pair.privateKey), { ...REQ, body: "{}" });
    const replay = new ReplayGuard();
    const req = { method: "POST", path: REQ.path, headers: (n: string) => headers[n], body: "{}" };
    expect((await verifyGatewayRequest(nodeVerifier(pair.publicKey), req, NOW, replay)).ok).toBe(true);
    expect(await verifyGatewayRequest(nodeVerifier(pair.publicKey), req, NOW, replay)).toEqual({ ok: false, reason: "replayed" });
  });

  it("refuses a key that is not 32 bytes", () => {
    expect(() => nodeVerifier(encodeBase64url(new Uint8Array(31)))).toThrow(TypeError);
  });
});
