import { describe, expect, it } from "vitest";
import { sha256, toHexString } from "./sha256";

describe("sha256", () => {
  it.each([0, 3, 4_096, 4_097, 70_000])("agrees with WebCrypto for %i bytes, as bytes or as a string", async (n) => {
    const text = "é".repeat(Math.ceil(n / 2)).slice(0, Math.ceil(n / 2));
    const bytes = new TextEncoder().encode(text);
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    expect(await sha256(bytes)).toEqual(expected);
    expect(await sha256(text)).toEqual(expected);
  });
  it("writes lowercase hex", async () => {
    expect(toHexString(await sha256("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(toHexString(new Uint8Array([0, 15, 255]))).toBe("000fff");
  });
});
