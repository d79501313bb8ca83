/**
 * The loose shapes of what an OpenAI-compatible engine (vLLM) streams back, and the one definition
 * of what counts as a delivered token. The gateway's relay and the provider agent's receipts both
 * count with `contentDeltas`, so a client-left request corrected to the provider's signed count
 * compares like with like.
 */
import { z } from "zod";

/** Token counts of one request: the one spelling of this pair. */
export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
}

/** A field we read: a value of the wrong type reads as absent instead of failing the whole chunk. */
const lenient = <T extends z.ZodType>(schema: T) => schema.nullish().catch(null);
const text = lenient(z.string());

export const ChunkDelta = z.looseObject({
  content: text,
  // vLLM streams thinking as `reasoning`; `reasoning_content` is its older name, still sent by some.
  reasoning: text,
  reasoning_content: text,
  tool_calls: lenient(z.array(z.unknown())),
});
export type ChunkDelta = z.infer<typeof ChunkDelta>;

export const ChunkChoice = z.looseObject({
  delta: lenient(ChunkDelta),
  /** The completions endpoint streams `text` instead of a delta. */
  text,
  finish_reason: text,
});
export type ChunkChoice = z.infer<typeof ChunkChoice>;

export const StreamChunk = z.looseObject({
  choices: lenient(z.array(lenient(ChunkChoice))),
  usage: z.unknown().optional(),
  error: z.unknown().optional(),
});
export type StreamChunk = z.infer<typeof StreamChunk>;

const Count = z.number().int().nonnegative();
export const Usage = z.looseObject({
  prompt_tokens: Count,
  // Embeddings report prompt_tokens and total_tokens only (vLLM: completion_tokens null or absent).
  completion_tokens: Count.nullish(),
});
export type Usage = z.infer<typeof Usage>;

/**
 * The counts of a `usage` object (of a JSON response or a streamed usage chunk); null when it is
 * absent or unreadable. Counts must be non-negative integers: anything else is not billable.
 */
export function readUsage(value: unknown): TokenCounts | null {
  if (value === null || value === undefined) return null; // vLLM's `usage: null` on every content chunk: skip zod's failure path
  const usage = Usage.safeParse(value);
  if (!usage.success) return null;
  return { promptTokens: usage.data.prompt_tokens, completionTokens: usage.data.completion_tokens ?? 0 };
}

/** The JSON object an SSE event's data carries; null when it is not JSON or not an object. */
export function parseChunk(data: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null; // malformed: the caller counts and drops it
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

const choicesOf = (chunk: unknown): ChunkChoice[] => {
  const parsed = StreamChunk.safeParse(chunk);
  return parsed.success ? (parsed.data.choices ?? []).filter((c) => c !== null && c !== undefined) : [];
};

const nonEmpty = (s: string | null | undefined) => typeof s === "string" && s.length > 0;
const finishes = (choice: ChunkChoice) => nonEmpty(choice.finish_reason);

/** Whether a choice delivered something: vLLM streams one token per such delta. */
function delivers(choice: ChunkChoice): boolean {
  const d = choice.delta;
  if (nonEmpty(choice.text)) return true;
  if (!d) return false;
  return nonEmpty(d.content) || nonEmpty(d.reasoning) || nonEmpty(d.reasoning_content) || (d.tool_calls?.length ?? 0) > 0;
}

/**
 * THE definition of delivered tokens in a streamed chunk: one per choice whose delta carries
 * non-empty `content`, `reasoning`, `reasoning_content` or a non-empty `tool_calls` array (or,
 * for completions, non-empty `text`). Anything that is not a chunk delivers nothing.
 */
export function contentDeltas(chunk: unknown): number {
  return choicesOf(chunk).filter(delivers).length;
}

/** Whether any choice of the chunk carries a finish_reason. */
export function hasFinished(chunk: unknown): boolean {
  return choicesOf(chunk).some(finishes);
}

/** Both of the above from one parse, for the per-chunk hot path. */
export function chunkProgress(chunk: unknown): { deliveredTokens: number; finished: boolean } {
  const choices = choicesOf(chunk);
  return { deliveredTokens: choices.filter(delivers).length, finished: choices.some(finishes) };
}
