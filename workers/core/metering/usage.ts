/**
 * One request's usage, as the gateway saw it, and the rules that turn a relay outcome into
 * billable counts. A failed request costs nothing; a stream cut short is billed for what was
 * delivered and marked partial.
 */
import type { TokenCounts } from "../openai/chunks";
import type { Endpoint } from "../routing/types";
import { costPico } from "../money/pricing";

export interface UsageRecord {
  requestId: string;
  keyId: string;
  accountId: string;
  providerId: string | null;
  model: string;
  endpoint: Endpoint;
  stream: boolean;
  promptTokens: number;
  completionTokens: number;
  costPico: bigint;
  /** The protocol's share of costPico (basis points of it, rounded down); the provider earns the rest. */
  feePico: bigint;
  status: "ok" | "partial" | "failed";
  errorCode: string | null;
  receiptStatus: "verified" | "unverified" | "none";
  ttftMs: number | null;
  durationMs: number;
  edge: string;
  attempts: number;
  createdAtMs: number;
}

export interface ObservedUsage {
  /** Counts the provider reported (usage object or usage chunk), if it did. */
  reported: TokenCounts | null;
  /** Content chunks the client received: one token each from vLLM's streaming. */
  deliveredTokens: number;
  promptEstimate: number;
  complete: boolean;
}

/**
 * Reported counts win when the response completed. A partial stream is billed for what the
 * client received, never more than the provider reported.
 */
export function billableTokens(u: ObservedUsage): TokenCounts {
  if (u.complete && u.reported) return u.reported;
  const promptTokens = u.reported?.promptTokens ?? u.promptEstimate;
  const completionTokens = u.reported ? Math.min(u.reported.completionTokens, u.deliveredTokens) : u.deliveredTokens;
  return { promptTokens, completionTokens };
}

export function priceRecord(tokens: TokenCounts, price: { inputPrice: bigint; outputPrice: bigint } | null): bigint {
  return price ? costPico(tokens, price) : 0n;
}
