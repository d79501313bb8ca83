import { beforeAll, describe, expect, it } from "vitest";
import { decodeBase64url, encodeBase64url } from "./base64url";
import {
  GATEWAY_AUTH_HEADERS as H,
  generateGatewayKeyPair,
  importGatewaySigningKey,
  importGatewayVerifyKey,
  ReplayGuard,
  signGatewayRequest,
  verifyGatewayRequest,
} from "./gateway-auth";

const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
const NOW = 1_750_000_000_000;
const BODY = '{"model":"llama","messages":[{"role":"user","content":"héllo"}]}';
const REQ = { method: "POST", path: "/v1/chat/completions", requestId: "gen-abc123", timestampMs: NOW, body: BODY };

let signingKey: CryptoKey, verifyKey: CryptoKey, otherVerifyKey: CryptoKey;
beforeAll(async () => {
  const pair = await generateGatewayKeyPair();
  signingKey = await importGatewaySigningKey(pair.privateKey);
  verifyKey = await importGatewayVerifyKey(pair.publicKey);
  otherVerifyKey = await importGatewayVerifyKey((await generateGatewayKeyPair()).publicKey);
});

const lookup = (headers: Record<string, string>) => (name: string) => headers[name.toLowerCase()];
function verify(
  headers: Record<string, string>,
  over: Partial<{ method: string; path: string; body: Uint8Array | string; now: number; key: CryptoKey; windowMs: number }> = {},
  replay = new ReplayGuard(),
) {
  return verifyGatewayRequest(
    over.key ?? verifyKey,
    { method: over.method ?? REQ.method, path: over.path ?? REQ.path, headers: lookup(headers), body: over.body ?? REQ.body },
    over.now ?? NOW,
    replay,
    over.windowMs,
  );
}

describe("gateway request signing", () => {
  it("generates base64url keys of the documented shapes", async () => {
    const pair = await generateGatewayKeyPair();
    expect(decodeBase64url(pair.publicKey)).toHaveLength(32);
    expect(decodeBase64url(pair.privateKey)).toHaveLength(48); // PKCS#8 wrapping of a 32-byte seed
  });

  it("imports keys in the documented encodings (RFC 8032 test 1)", async () => {
    const seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const pkcs8 = encodeBase64url(hexBytes(`302e020100300506032b657004220420${seed}`));
    const pub = encodeBase64url(hexBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
    const expected =
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", await importGatewaySigningKey(pkcs8), new Uint8Array()));
    expect(encodeBase64url(sig)).toBe(encodeBase64url(hexBytes(expected)));
    expect(await crypto.subtle.verify("Ed25519", await importGatewayVerifyKey(pub), sig, new Uint8Array())).toBe(true);
  });

  it("rejects a public key that is not 32 bytes", async () => {
    await expect(importGatewayVerifyKey(encodeBase64url(new Uint8Array(31)))).rejects.toThrow(TypeError);
  });

  it("returns exactly the three headers", async () => {
    const headers = await signGatewayRequest(signingKey, REQ);
    expect(Object.keys(headers).sort()).toEqual([H.requestId, H.signature, H.timestamp]);
    expect(headers[H.requestId]).toBe("gen-abc123");
    expect(headers[H.timestamp]).toBe(String(NOW));
    expect(decodeBase64url(headers[H.signature]!)).toHaveLength(64);
  });

  it("signs the documented canonical string", async () => {
    const headers = await signGatewayRequest(signingKey, { ...REQ, method: "post" });
    const bodyHash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(BODY)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const canonical = `meshgate-request-v1\nPOST\n/v1/chat/completions\ngen-abc123\n${NOW}\n${bodyHash}`;
    const sig = decodeBase64url(headers[H.signature]!);
    expect(await crypto.subtle.verify("Ed25519", verifyKey, sig, new TextEncoder().encode(canonical))).toBe(true);
  });

  it("signs a string body and its UTF-8 bytes alike", async () => {
    const a = await signGatewayRequest(signingKey, REQ);
    const b = await signGatewayRequest(signingKey, { ...REQ, body: new TextEncoder().encode(BODY) });
    expect(a).toEqual(b);
  });

  it.each([
    ["method", { method: "PO ST" }],
    ["path without /", { path: "v1/chat" }],
    ["path with a line break", { path: "/v1\n/x" }],
    ["request id with a line break", { requestId: "gen-1\ngen-2" }],
    ["empty request id", { requestId: "" }],
    ["fractional timestamp", { timestampMs: 1.5 }],
    ["negative timestamp", { timestampMs: -1 }],
  ])("refuses to sign a malformed %s", async (_, over) => {
    await expect(signGatewayRequest(signingKey, { ...REQ, ...over })).rejects.toThrow(TypeError);
  });
});

describe("gateway request verification", () => {
  it("accepts a signed request and returns its id", async () => {
    expect(await verify(await signGatewayRequest(signingKey, REQ))).toEqual({ ok: true, requestId: "gen-abc123" });
  });

  it("accepts an empty body and a lower-case method", async () => {
    const headers = await signGatewayRequest(signingKey, { ...REQ, method: "GET", body: new Uint8Array() });
    expect(await verify(headers, { method: "get", body: "" })).toMatchObject({ ok: true });
  });

  it("rejects any change to the body", async () => {
    const bytes = new TextEncoder().encode(BODY);
    const headers = await signGatewayRequest(signingKey, { ...REQ, body: bytes });
    for (const i of [0, 10, bytes.length - 1]) {
      const tampered = bytes.slice();
      tampered[i]! ^= 1;
      expect(await verify(headers, { body: tampered })).toEqual({ ok: false, reason: "bad_signature" });
    }
    expect(await verify(headers, { body: BODY + " " })).toEqual({ ok: false, reason: "bad_signature" });
  });

  it.each([
    ["method", { method: "PUT" }],
    ["path", { path: "/v1/completions" }],
    ["query", { path: "/v1/chat/completions?x=1" }],
  ])("rejects a different %s", async (_, over) => {
    expect(await verify(await signGatewayRequest(signingKey, REQ), over)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it.each([
    ["request id", H.requestId, "gen-abc124"],
    ["timestamp", H.timestamp, String(NOW + 1)],
    ["timestamp spelling", H.timestamp, `0${NOW}`],
  ])("rejects a changed %s header", async (_, name, value) => {
    const headers = { ...(await signGatewayRequest(signingKey, REQ)), [name]: value };
    expect(await verify(headers)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("rejects a changed, truncated or garbled signature", async () => {
    const headers = await signGatewayRequest(signingKey, REQ);
    const sig = decodeBase64url(headers[H.signature]!);
    sig[5]! ^= 0x10;
    for (const value of [encodeBase64url(sig), headers[H.signature]!.slice(0, -4), "not base64url!", "AAAA"]) {
      expect(await verify({ ...headers, [H.signature]: value })).toEqual({ ok: false, reason: "bad_signature" });
    }
  });

  it("rejects a signature by another key", async () => {
    expect(await verify(await signGatewayRequest(signingKey, REQ), { key: otherVerifyKey })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
  });

  it.each([H.requestId, H.timestamp, H.signature])("rejects a request without %s", async (name) => {
    const headers = await signGatewayRequest(signingKey, REQ);
    delete headers[name];
    expect(await verify(headers)).toEqual({ ok: false, reason: "missing_headers" });
    expect(await verify({ ...headers, [name]: "" })).toEqual({ ok: false, reason: "missing_headers" });
  });

  it.each(["soon", "-1", "1.5", "1e12", " 1", "1234567890123456"])("rejects the timestamp %j", async (ts) => {
    const headers = { ...(await signGatewayRequest(signingKey, REQ)), [H.timestamp]: ts };
    expect(await verify(headers)).toEqual({ ok: false, reason: "bad_timestamp" });
  });

  it("accepts timestamps up to the window's edges and rejects them beyond", async () => {
    const headers = await signGatewayRequest(signingKey, REQ);
    expect(await verify(headers, { now: NOW + 30_000 })).toMatchObject({ ok: true });
    expect(await verify(headers, { now: NOW - 30_000 })).toMatchObject({ ok: true });
    expect(await verify(headers, { now: NOW + 30_001 })).toEqual({ ok: false, reason: "expired" });
    expect(await verify(headers, { now: NOW - 30_001 })).toEqual({ ok: false, reason: "expired" });
    expect(await verify(headers, { now: NOW + 5_000, windowMs: 5_000 })).toMatchObject({ ok: true });
    expect(await verify(headers, { now: NOW + 5_001, windowMs: 5_000 })).toEqual({ ok: false, reason: "expired" });
  });

  it("rejects a replay for as long as the timestamp is accepted", async () => {
    const replay = new ReplayGuard();
    const headers = await signGatewayRequest(signingKey, REQ);
    expect(await verify(headers, {}, replay)).toMatchObject({ ok: true });
    expect(await verify(headers, {}, replay)).toEqual({ ok: false, reason: "replayed" });
    expect(await verify(headers, { now: NOW + 30_000 }, replay)).toEqual({ ok: false, reason: "replayed" });
    expect(await verify(headers, { now: NOW + 30_001 }, replay)).toEqual({ ok: false, reason: "expired" });
  });

  it("remembers only authentic requests", async () => {
    const replay = new ReplayGuard();
    const headers = await signGatewayRequest(signingKey, REQ);
    expect(await verify(headers, { body: "forged" }, replay)).toEqual({ ok: false, reason: "bad_signature" });
    expect(replay.size).toBe(0);
    expect(await verify(headers, {}, replay)).toMatchObject({ ok: true });
  });
});
