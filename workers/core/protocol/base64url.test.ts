import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64url, encodeBase64url } from "./base64url";

describe("base64url", () => {
  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64url(bytes);
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(decodeBase64url(text)).toEqual(bytes);
      }),
    );
  });
  it("uses the url-safe alphabet without padding", () => {
    expect(encodeBase64url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
    expect(encodeBase64url(new Uint8Array())).toBe("");
  });
  it.each(["-_8=", "+/8", "a b", "A", "-_9" /* non-zero trailing bits */, "ab\n"])("rejects %j", (text) => {
    expect(() => decodeBase64url(text)).toThrow(TypeError);
  });
});
