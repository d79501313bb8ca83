import { describe, expect, it } from "vitest";
import { formatBase, formatDecimal, formatUsdc, parseDecimal, parseUsdc } from "./units";

describe("money units", () => {
  it("parses decimal USDC exactly, to the pico", () => {
    expect(parseUsdc("12.5")).toBe(12_500_000_000_000n);
    expect(parseUsdc("0.000000000001")).toBe(1n);
    expect(parseUsdc("3")).toBe(3_000_000_000_000n);
  });

  it("refuses what it could only round or misread", () => {
    for (const bad of ["-1", "+1", "1e3", " 1", "1.", ".5", "1.0000000000001", "", "0x10", "1,5"]) {
      expect(() => parseUsdc(bad)).toThrow(RangeError);
    }
    expect(parseDecimal("1.0000001", 6)).toBeNull();
    expect(parseDecimal("1.000001", 6)).toBe(1_000_001n);
  });

  it("formats exactly, trimming zeros down to the decimals asked for", () => {
    expect(formatUsdc(1_500_000_000_000n)).toBe("1.5");
    expect(formatUsdc(1n)).toBe("0.000000000001");
    expect(formatUsdc(-2_000_000_000_000n)).toBe("-2");
    expect(formatUsdc(1_500_000_000_000n, 2)).toBe("1.50");
    expect(formatUsdc(0n, 2)).toBe("0.00");
    expect(formatBase(12_345_678n)).toBe("12.345678");
    expect(() => formatDecimal(1n, 6, 7)).toThrow(RangeError);
  });

  it("round-trips every amount", () => {
    for (const pico of [0n, 1n, 999_999_999_999n, 10n ** 12n, 123_456_789_012_345_678n]) expect(parseUsdc(formatUsdc(pico))).toBe(pico);
  });
});
