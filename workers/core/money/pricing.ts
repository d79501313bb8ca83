/**
 * Money arithmetic for token usage, exact and integer-only.
 *
 * Prices are micro-USDC per million tokens, which is exactly pico-USDC per token, so
 * cost in pico-USDC = tokens × price: no division, no rounding, no floats.
 */

import type { TokenCounts } from "../openai/chunks";
import { parseDecimal, USDC_DECIMALS } from "./units";

export type { TokenCounts } from "../openai/chunks";

export interface TokenPrice {
  /** micro-USDC per million input tokens (= pico-USDC per token). */
  inputPrice: bigint;
  /** micro-USDC per million output tokens (= pico-USDC per token). */
  outputPrice: bigint;
}

function tokensToBigint(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  return BigInt(n);
}

function checkPrice(p: bigint, what: string): bigint {
  if (p < 0n) throw new RangeError(`${what} must not be negative, got ${p}`);
  return p;
}

/** Exact cost in pico-USDC of a request's tokens at a provider's price. */
export function costPico(tokens: TokenCounts, price: TokenPrice): bigint {
  return (
    tokensToBigint(tokens.promptTokens, "promptTokens") * checkPrice(price.inputPrice, "inputPrice") +
    tokensToBigint(tokens.completionTokens, "completionTokens") * checkPrice(price.outputPrice, "outputPrice")
  );
}

/**
 * The most a request can cost, for budget reservations: the prompt estimate at the input price
 * plus every allowed output token at the output price. Given several candidate prices (the
 * provider is not chosen yet at admission), the highest input and highest output price are used,
 * which bounds every candidate. An empty list costs 0n (no provider: nothing will be sent).
 * `maxOutputTokens` is the request's `max_tokens`, or the caller's cap (e.g. context length − prompt).
 */
export function worstCaseCostPico(
  tokens: { promptTokens: number; maxOutputTokens: number },
  prices: TokenPrice | readonly TokenPrice[],
): bigint {
  const list: readonly TokenPrice[] = Array.isArray(prices) ? prices : [prices as TokenPrice];
  if (list.length === 0) return 0n;
  let inputPrice = 0n;
  let outputPrice = 0n;
  for (const p of list) {
    if (checkPrice(p.inputPrice, "inputPrice") > inputPrice) inputPrice = p.inputPrice;
    if (checkPrice(p.outputPrice, "outputPrice") > outputPrice) outputPrice = p.outputPrice;
  }
  return costPico({ promptTokens: tokens.promptTokens, completionTokens: tokens.maxOutputTokens }, { inputPrice, outputPrice });
}

/**
 * Parses a decimal USDC-per-million-tokens price ("0.20", "3", "0.000001") into micro-USDC per
 * million tokens exactly ("0.20" → 200_000n). Throws on negatives, signs, exponents, whitespace,
 * more than 6 decimals (finer than one micro-USDC per million tokens) and anything else.
 */
export function parseUsdcPerMTok(s: string): bigint {
  const micro = parseDecimal(s, USDC_DECIMALS);
  if (micro !== null) return micro;
  throw new Error(
    /^\d+(\.\d+)?$/.test(s)
      ? `Invalid price '${s}': at most ${USDC_DECIMALS} decimals are allowed`
      : `Invalid price '${s}': expected a non-negative decimal number of USDC per million tokens`,
  );
}

/**
 * A JS number as the exact decimal string it round-trips from (String(n), with any exponent
 * expanded: 1e-7 → "0.0000001", 1.5e21 → "1500000000000000000000"). For JSON input this is the
 * decimal the client wrote (up to 17 significant digits), so no float arithmetic touches money.
 */
export function numberToDecimalString(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`Invalid number ${n}`);
  const s = String(n);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const sign = m[1]!;
  const digits = m[2]! + (m[3] ?? "");
  const point = m[2]!.length + Number(m[4]); // position of the decimal point within `digits`
  let out: string;
  if (point <= 0) out = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + "0".repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign + out;
}
