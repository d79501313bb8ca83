import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { costPico, numberToDecimalString, parseUsdcPerMTok, worstCaseCostPico } from "./pricing";
import { formatUsdc } from "./units";

describe("costPico", () => {
  it("is tokens × price in pico-USDC, exactly", () => {
    // $0.20/M input, $0.80/M output; 1000 prompt + 500 completion tokens
    // = 1000 × 0.20e-6 + 500 × 0.80e-6 USDC = 0.0006 USDC = 600_000_000 pico
    const price = { inputPrice: parseUsdcPerMTok("0.20"), outputPrice: parseUsdcPerMTok("0.80") };
    expect(costPico({ promptTokens: 1000, completionTokens: 500 }, price)).toBe(600_000_000n);
  });

  it("stays exact far beyond float precision", () => {
    const price = { inputPrice: 123_456_789_123n, outputPrice: 987_654_321_987n };
    const tokens = { promptTokens: Number.MAX_SAFE_INTEGER, completionTokens: 3 };
    expect(costPico(tokens, price)).toBe(9007199254740991n * 123_456_789_123n + 3n * 987_654_321_987n);
  });

  it("rejects fractional, negative and unsafe token counts and negative prices", () => {
    const price = { inputPrice: 1n, outputPrice: 1n };
    expect(() => costPico({ promptTokens: 1.5, completionTokens: 0 }, price)).toThrow(RangeError);
    expect(() => costPico({ promptTokens: -1, completionTokens: 0 }, price)).toThrow(RangeError);
    expect(() => costPico({ promptTokens: 0, completionTokens: 2 ** 60 }, price)).toThrow(RangeError);
    expect(() => costPico({ promptTokens: 1, completionTokens: 1 }, { inputPrice: -1n, outputPrice: 0n })).toThrow(RangeError);
  });

  const tokens = fc.record({ promptTokens: fc.nat(), completionTokens: fc.nat() });
  const price = fc.record({ inputPrice: fc.bigInt({ min: 0n, max: 10n ** 12n }), outputPrice: fc.bigInt({ min: 0n, max: 10n ** 12n }) });

  it("is additive in tokens and never negative (property)", () => {
    fc.assert(
      fc.property(tokens, tokens, price, (a, b, p) => {
        const sum = { promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens };
        const whole = costPico(sum, p);
        expect(whole).toBe(costPico(a, p) + costPico(b, p));
        expect(whole >= 0n).toBe(true);
      }),
    );
  });

  it("splits into input and output parts (property)", () => {
    fc.assert(
      fc.property(tokens, price, (t, p) => {
        expect(costPico(t, p)).toBe(
          costPico({ promptTokens: t.promptTokens, completionTokens: 0 }, p) +
            costPico({ promptTokens: 0, completionTokens: t.completionTokens }, p),
        );
      }),
    );
  });
});

describe("worstCaseCostPico", () => {
  it("charges every allowed output token at the output price", () => {
    expect(worstCaseCostPico({ promptTokens: 10, maxOutputTokens: 100 }, { inputPrice: 2n, outputPrice: 5n })).toBe(520n);
  });

  it("bounds every candidate by taking the highest input and output price", () => {
    const cands = [
      { inputPrice: 10n, outputPrice: 1n },
      { inputPrice: 1n, outputPrice: 10n },
    ];
    expect(worstCaseCostPico({ promptTokens: 3, maxOutputTokens: 4 }, cands)).toBe(3n * 10n + 4n * 10n);
    expect(worstCaseCostPico({ promptTokens: 3, maxOutputTokens: 4 }, [])).toBe(0n);
  });

  it("is at least the real cost of any candidate for any completion within the cap (property)", () => {
    const p = fc.record({ inputPrice: fc.bigInt({ min: 0n, max: 10n ** 9n }), outputPrice: fc.bigInt({ min: 0n, max: 10n ** 9n }) });
    fc.assert(
      fc.property(fc.array(p, { minLength: 1, maxLength: 5 }), fc.nat(100_000), fc.nat(100_000), fc.nat(), (cands, prompt, cap, pick) => {
        const worst = worstCaseCostPico({ promptTokens: prompt, maxOutputTokens: cap }, cands);
        const chosen = cands[pick % cands.length]!;
        expect(costPico({ promptTokens: prompt, completionTokens: cap }, chosen) <= worst).toBe(true);
      }),
    );
  });
});

describe("formatUsdc", () => {
  it("prints exact decimals without floats", () => {
    expect(formatUsdc(0n)).toBe("0");
    expect(formatUsdc(1n)).toBe("0.000000000001");
    expect(formatUsdc(1_500_000_000_000n)).toBe("1.5");
    expect(formatUsdc(1_000_000_000_000n)).toBe("1");
    expect(formatUsdc(-250_000_000_000n)).toBe("-0.25");
    expect(formatUsdc(123_456_789_012_345_678_901_234n)).toBe("123456789012.345678901234");
  });

  it("keeps at least minDecimals", () => {
    expect(formatUsdc(1_500_000_000_000n, 2)).toBe("1.50");
    expect(formatUsdc(0n, 2)).toBe("0.00");
    expect(formatUsdc(1n, 2)).toBe("0.000000000001");
    expect(() => formatUsdc(1n, 13)).toThrow(RangeError);
  });

  it("round-trips through the decimal string (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (pico) => {
        const s = formatUsdc(pico);
        const [whole, frac = ""] = s.replace("-", "").split(".");
        const abs = BigInt(whole!) * 10n ** 12n + BigInt(frac.padEnd(12, "0"));
        expect(s.startsWith("-") ? -abs : abs).toBe(pico);
        expect(s.endsWith("0") && s.includes(".")).toBe(false);
      }),
    );
  });
});

describe("parseUsdcPerMTok", () => {
  it("parses decimal USDC per million tokens into micro-USDC per million, exactly", () => {
    expect(parseUsdcPerMTok("0.20")).toBe(200_000n);
    expect(parseUsdcPerMTok("3")).toBe(3_000_000n);
    expect(parseUsdcPerMTok("0.000001")).toBe(1n);
    expect(parseUsdcPerMTok("15.5")).toBe(15_500_000n);
    expect(parseUsdcPerMTok("0")).toBe(0n);
    expect(parseUsdcPerMTok("12345678901234567890.123456")).toBe(12345678901234567890123456n);
  });

  it.each(["-1", "+1", "0.0000001", "1e-3", "", " 1", "1 ", ".5", "5.", "abc", "1,5", "0x10", "NaN", "Infinity"])("rejects %j", (s) => {
    expect(() => parseUsdcPerMTok(s)).toThrow(Error);
  });

  it("is exact for every micro amount (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), (micro) => {
        const s = `${micro / 1_000_000n}.${(micro % 1_000_000n).toString().padStart(6, "0")}`;
        expect(parseUsdcPerMTok(s)).toBe(micro);
      }),
    );
  });
});

describe("numberToDecimalString", () => {
  it("gives the decimal a JSON number was written as, expanding exponents", () => {
    expect(numberToDecimalString(0.2)).toBe("0.2");
    expect(numberToDecimalString(3)).toBe("3");
    expect(numberToDecimalString(1e-7)).toBe("0.0000001");
    expect(numberToDecimalString(1.25e-7)).toBe("0.000000125");
    expect(numberToDecimalString(1.5e21)).toBe("1500000000000000000000");
    expect(numberToDecimalString(-2.5e-7)).toBe("-0.00000025");
    expect(() => numberToDecimalString(Number.NaN)).toThrow();
  });

  it("agrees with the number for every finite double (property)", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const s = numberToDecimalString(n);
        expect(s).toMatch(/^-?\d+(\.\d+)?$/);
        expect(Number(s)).toBe(n === 0 ? 0 : n); // -0 prints as "0"
      }),
    );
  });
});
