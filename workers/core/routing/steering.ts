/**
 * The OpenRouter-style `provider` object a caller may put in a request body to steer routing.
 * Unknown keys (OpenRouter's `data_collection`, `quantizations`, …) are accepted and ignored.
 *
 * `max_price` is USDC per million tokens, as a number or a decimal string; it is parsed to
 * micro-USDC per million tokens (bigint) exactly, so the parsed object holds bigints: strip the
 * `provider` field from any body forwarded upstream (JSON.stringify throws on bigint).
 */
import { z } from "zod";
import { numberToDecimalString, parseUsdcPerMTok } from "../money/pricing";
import type { ProviderOffer } from "./types";

const UsdcPerMTok = z.union([z.number(), z.string()]).transform((v, ctx): bigint => {
  try {
    return parseUsdcPerMTok(typeof v === "number" ? numberToDecimalString(v) : v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: e instanceof Error ? e.message : String(e) });
    return z.NEVER;
  }
});

const ProviderIds = z.array(z.string().min(1));

export const ProviderPreferences = z.looseObject({
  /** Try these providers first, in this order. */
  order: ProviderIds.optional(),
  /** Route only to these providers. */
  only: ProviderIds.optional(),
  /** Never route to these providers. */
  ignore: ProviderIds.optional(),
  sort: z.enum(["price", "latency", "throughput"]).optional(),
  /** false: only the `order` providers (or only the top-ranked one without `order`). */
  allow_fallbacks: z.boolean().default(true),
  /** false: a stream that breaks mid-answer is not continued by another provider (it ends with an error event). */
  continuation: z.boolean().optional(),
  /** Highest acceptable price, micro-USDC per million tokens after parsing. */
  max_price: z
    .looseObject({
      prompt: UsdcPerMTok.optional(),
      completion: UsdcPerMTok.optional(),
    })
    .optional(),
});
export type ProviderPreferences = z.infer<typeof ProviderPreferences>;
/** The `provider` object as a client writes it (prices as numbers or strings). */
export type ProviderPreferencesInput = z.input<typeof ProviderPreferences>;

export type SteeringExclusion = "steering" | "over_max_price";

/**
 * Why the caller's preferences rule this offer out, or null if they allow it. Looks only at the
 * offer itself (`only`, `ignore`, `max_price`); `order` with `allow_fallbacks: false` is a
 * property of the whole ranking and is applied by `rankCandidates`.
 */
export function steeringExclusion(prefs: ProviderPreferences | undefined, offer: ProviderOffer): SteeringExclusion | null {
  if (!prefs) return null;
  if (prefs.only && !prefs.only.includes(offer.providerId)) return "steering";
  if (prefs.ignore?.includes(offer.providerId)) return "steering";
  const max = prefs.max_price;
  if (max?.prompt !== undefined && offer.inputPrice > max.prompt) return "over_max_price";
  if (max?.completion !== undefined && offer.outputPrice > max.completion) return "over_max_price";
  return null;
}

/** Whether the caller's preferences allow routing to this offer. */
export function allowedBy(prefs: ProviderPreferences | undefined, offer: ProviderOffer): boolean {
  return steeringExclusion(prefs, offer) === null;
}
