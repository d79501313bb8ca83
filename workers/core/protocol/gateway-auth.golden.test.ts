/**
 * The wire format of the gateway's request signature, pinned: these headers were computed with the
 * implementation before signing moved to WebCrypto's digest and a table-driven base64url (viem's
 * JS SHA-256, a btoa over a byte-by-byte binary string). Ed25519 is deterministic, so the same key
 * and input must give the same bytes, and the provider agent (verifying with ./sha256) accepts them.
 */
import { describe, expect, it } from "vitest";
import { encodeBase64url } from "./base64url";
import { importGatewaySigningKey, importGatewayVerifyKey, ReplayGuard, signGatewayRequest, verifyGatewayRequest } from "./gateway-auth";
import { publicKeyOf } from "./public-key";

/** A fixed Ed25519 key: PKCS#8's prefix and the seed 1, 8, 15, … */
const PKCS8 = "MC4CAQAwBQYDK2VwBCIEIAEIDxYdJCsyOUBHTlVcY2pxeH-GjZSboqmwt77FzNPa";
const NOW = 1_750_000_000_000;
const SMALL = '{"model":"llama","messages":[{"role":"user","content":"héllo"}]}';
const LARGE = JSON.stringify({
  model: "m",
  messages: Array.from({ length: 100 }, (_, i) => ({ role: "user", content: `message ${i} ${"é".repeat(50)}${"x".repeat(i)}` })),
});
const GOLDEN: [string, Uint8Array | string, string][] = [
  ["a small body", SMALL, "oTk92dUMjAfxXAvRBpO2MSK1hJu_AToHTj_uQuGoSUbhCkMxqYbQvQMwKCH0npNSqAQpaoIowo7HFHeJD-IyCA"],
  ["a 19 KB body", LARGE, "AaswaG0mBgwTz016CtAUQR5SFrHpU_wUpJVDdS8doIRTBt3eYt1raYBdH3lAO8j0zRodrCuPScCYiscwrV1nBw"],
  ["an empty body", "", "lCFV4PGAFG6-ORDzlFqSl7O2eWdig_Yu0q9DUIWdJhWKoGx6voEnzpSgM7n-1C5O7wQYEeKr9LpZ2c5bFQfnAg"],
  [
    "the small body as bytes",
    new TextEncoder().encode(SMALL),
    "oTk92dUMjAfxXAvRBpO2MSK1hJu_AToHTj_uQuGoSUbhCkMxqYbQvQMwKCH0npNSqAQpaoIowo7HFHeJD-IyCA",
  ],
];

describe("gateway request signature (golden)", () => {
  it.each(GOLDEN)("signs %s with the same bytes as before, and the verifier accepts them", async (_, body, signature) => {
    const key = await importGatewaySigningKey(PKCS8);
    const req = { method: "post", path: "/v1/chat/completions?x=1", requestId: "gen-abc123", timestampMs: NOW, body };
    const headers = await signGatewayRequest(key, req);
    expect(headers).toEqual({
      "x-meshgate-request-id": "gen-abc123",
      "x-meshgate-timestamp": "1750000000000",
      "x-meshgate-signature": signature,
    });
    const verifyKey = await importGatewayVerifyKey(await publicKeyOf(PKCS8));
    const verdict = await verifyGatewayRequest(verifyKey, { ...req, headers: (n) => headers[n] }, NOW, new ReplayGuard());
    expect(verdict).toEqual({ ok: true, requestId: "gen-abc123" });
  });

  it("encodes base64url as before, at every length modulo 3", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => (i * 37 + 11) & 255);
    const golden: [number, string][] = [
      [0, ""],
      [1, "Cw"],
      [2, "CzA"],
      [3, "CzBV"],
      [4, "CzBVeg"],
      [31, "CzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YQ"],
      [32, "CzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYY"],
      [64, "CzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW-yBFao-02f4jSG2St9wBJg"],
      [65, "CzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW-yBFao-02f4jSG2St9wBJks"],
    ];
    for (const [n, text] of golden) expect(encodeBase64url(bytes.subarray(0, n))).toBe(text);
  });
});
