import { describe, expect, it } from "vitest";
import { bearerToken, constantTimeEqual, keyDisplayPrefix, newKeySecret, sha256Hex } from "./keys";

describe("api key secrets", () => {
  it("are mg- plus 40 alphanumerics and unique", () => {
    const a = newKeySecret(),
      b = newKeySecret();
    expect(a).toMatch(/^mg-[0-9A-Za-z]{40}$/);
    expect(a).not.toBe(b);
    expect(keyDisplayPrefix(a)).toBe(a.slice(0, 9));
  });
  it("hash to the known SHA-256", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
  it("compare equal only when equal", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });
  it("read bearer tokens strictly", () => {
    expect(bearerToken("Bearer mg-x")).toBe("mg-x");
    expect(bearerToken("bearer   mg-x ")).toBe("mg-x");
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken("Bearer a b")).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
