/**
 * Money units, exact and integer-only. The ledger counts pico-USDC (1e-12 USDC); the chain counts
 * USDC base units (1e-6); prices are micro-USDC per million tokens, which is exactly pico-USDC per
 * token. Decimal strings are the only way money crosses a boundary: never a float.
 */
import { formatUnits, parseUnits } from "viem";

/** pico-USDC (1e-12 USDC): the ledger's unit. */
export type Pico = bigint;

export const PICO_DECIMALS = 12;
/** USDC's own decimals: base units on chain, and micro-USDC per million tokens in prices. */
export const USDC_DECIMALS = 6;
export const PICO_PER_USDC = 10n ** BigInt(PICO_DECIMALS);

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * A non-negative decimal string ("12.5", "0.000001") as integer units with `decimals` decimals,
 * exactly; null for signs, exponents, whitespace, or more decimals than the unit holds (which
 * would have to round).
 */
export function parseDecimal(text: string, decimals: number): bigint | null {
  const m = DECIMAL.exec(text);
  if (!m || (m[2]?.length ?? 0) > decimals) return null;
  return parseUnits(text, decimals);
}

/** USDC as a decimal string → pico-USDC, exactly ("12.5" → 12_500_000_000_000n); throws if it is not exact. */
export function parseUsdc(text: string): Pico {
  const pico = parseDecimal(text, PICO_DECIMALS);
  if (pico === null)
    throw new RangeError(`Invalid amount '${text}': expected a non-negative decimal number of USDC, at most ${PICO_DECIMALS} decimals`);
  return pico;
}

/**
 * Integer units as an exact decimal string, trailing zeros trimmed down to `minDecimals`
 * (formatUnits(1_500_000n, 6) → "1.5"; with minDecimals 2 → "1.50").
 */
export function formatDecimal(value: bigint, decimals: number, minDecimals = 0): string {
  if (!Number.isInteger(minDecimals) || minDecimals < 0 || minDecimals > decimals) {
    throw new RangeError(`minDecimals must be an integer in 0..${decimals}, got ${minDecimals}`);
  }
  const text = formatUnits(value, decimals);
  const [whole, frac = ""] = text.split(".");
  return minDecimals === 0 || frac.length >= minDecimals ? text : `${whole}.${frac.padEnd(minDecimals, "0")}`;
}

/** Pico-USDC as an exact decimal USDC string: 1_500_000_000_000n → "1.5", 1n → "0.000000000001". */
export const formatUsdc = (pico: Pico, minDecimals = 0): string => formatDecimal(pico, PICO_DECIMALS, minDecimals);

/** USDC base units (1e-6) as a decimal string ("12.345678"), for people and JSON. */
export const formatBase = (base: bigint): string => formatDecimal(base, USDC_DECIMALS);
