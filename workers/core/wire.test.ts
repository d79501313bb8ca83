import { describe, expect, it } from "vitest";
import { Address, addressOrNull, Hex, Signature } from "./wire";

describe("wire primitives", () => {
  it("accepts an address in one letter case or with a valid checksum, and refuses anything else", () => {
    expect(Address.safeParse("0x00000000000000000000000000000000000000a1").success).toBe(true);
    expect(Address.safeParse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").success).toBe(true);
    expect(Address.safeParse("0xf39fd6e51aad88F6F4ce6aB8827279cffFb92266").success).toBe(false); // one letter's case off: a typo
    for (const bad of ["0x1234", "00000000000000000000000000000000000000a1", "0xg000000000000000000000000000000000000000", 42, null]) {
      expect(Address.safeParse(bad).success).toBe(false);
    }
    expect(addressOrNull("0x00000000000000000000000000000000000000a1")).toBe("0x00000000000000000000000000000000000000a1");
    expect(addressOrNull("nope")).toBeNull();
  });

  it("tells hex and signatures from other strings", () => {
    expect(Hex.safeParse("0xdeadbeef").success).toBe(true);
    expect(Hex.safeParse("deadbeef").success).toBe(false);
    expect(Signature.safeParse(`0x${"ab".repeat(65)}`).success).toBe(true);
    expect(Signature.safeParse(`0x${"ab".repeat(64)}`).success).toBe(false);
  });
});
