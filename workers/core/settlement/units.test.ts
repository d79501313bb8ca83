import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accountToBytes32, baseToPico, bytes32ToAccount, formatBase, picoToBase } from "./units";

describe("picoToBase", () => {
  it("floors to whole base units and keeps the remainder, so nothing is created or lost", () => {
    expect(picoToBase(1_234_567n)).toEqual({ base: 1n, remainderPico: 234_567n });
    expect(picoToBase(999_999n)).toEqual({ base: 0n, remainderPico: 999_999n });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (pico) => {
        const { base, remainderPico } = picoToBase(pico);
        return baseToPico(base) + remainderPico === pico && remainderPico >= 0n && remainderPico < 1_000_000n;
      }),
    );
  });

  it("carries a debt whole instead of paying anything", () => {
    expect(picoToBase(-5n)).toEqual({ base: 0n, remainderPico: -5n });
  });
});

describe("account ids on chain", () => {
  it("round-trips a uuid through bytes32 and rejects what cannot be one", () => {
    const id = "3f2c5a1e-9b7d-4c2a-8e1f-0a1b2c3d4e5f";
    const b = accountToBytes32(id);
    expect(b).toBe("0x000000000000000000000000000000003f2c5a1e9b7d4c2a8e1f0a1b2c3d4e5f");
    expect(bytes32ToAccount(b)).toBe(id);
    expect(bytes32ToAccount(`0x11${b.slice(4)}`)).toBeNull();
    expect(bytes32ToAccount("0x1234")).toBeNull();
    expect(() => accountToBytes32("not-a-uuid")).toThrow(RangeError);
  });
});

describe("formatBase", () => {
  it("prints USDC exactly", () => {
    expect(formatBase(12_345_678n)).toBe("12.345678");
    expect(formatBase(5_000_000n)).toBe("5");
    expect(formatBase(-1n)).toBe("-0.000001");
  });
});
