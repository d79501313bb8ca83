/**
 * A cheap, tokenizer-free estimate of a request's prompt tokens, used for budget reservations and
 * the context-length check before a provider is chosen. It leans high: ASCII text counts ~4
 * characters per token, every other UTF-16 unit (CJK, emoji, accents) a whole token, each chat
 * message pays a chat-template overhead, and token-id prompts count exactly. The real count from
 * the provider's usage replaces it for billing.
 */

/** Any request body: only the fields that carry prompt text are read. */
export interface PromptBearingBody {
  messages?: unknown;
  prompt?: unknown;
  input?: unknown;
  tools?: unknown;
  functions?: unknown;
}

/** Role header and separators a chat template adds per message (Llama 3 uses ~5). */
export const MESSAGE_OVERHEAD_TOKENS = 5;
/** The assistant header the template appends before generation. */
export const REPLY_PRIMING_TOKENS = 3;
/** A fixed charge for a non-text part (image, audio, file); real cost varies with size. */
export const MEDIA_PART_TOKENS = 765;

const NON_ASCII = /[^\x00-\x7f]/;

/** Tokens in a text: ceil(ASCII chars / 4) + one per non-ASCII UTF-16 unit. */
function textTokens(s: string): number {
  if (!NON_ASCII.test(s)) return Math.ceil(s.length / 4); // all ASCII, the common case: one native scan
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) < 0x80) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 4) + other;
}

function jsonTokens(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "string") return textTokens(v);
  return textTokens(JSON.stringify(v) ?? ""); // bodies come from JSON.parse: never cyclic, never bigint
}

function contentTokens(content: unknown): number {
  if (typeof content === "string") return textTokens(content);
  if (!Array.isArray(content)) return jsonTokens(content);
  let n = 0;
  for (const part of content) {
    if (typeof part === "string") n += textTokens(part);
    else if (part && typeof part === "object") {
      const p = part as { type?: unknown; text?: unknown; refusal?: unknown };
      if (typeof p.text === "string") n += textTokens(p.text);
      else if (typeof p.refusal === "string") n += textTokens(p.refusal);
      else n += MEDIA_PART_TOKENS;
    }
  }
  return n;
}

function messageTokens(message: unknown): number {
  if (!message || typeof message !== "object") return MESSAGE_OVERHEAD_TOKENS + jsonTokens(message);
  const m = message as { content?: unknown; name?: unknown; tool_calls?: unknown; function_call?: unknown };
  return (
    MESSAGE_OVERHEAD_TOKENS +
    contentTokens(m.content) +
    (typeof m.name === "string" ? textTokens(m.name) + 1 : 0) +
    jsonTokens(m.tool_calls) +
    jsonTokens(m.function_call)
  );
}

/** A completions prompt or an embeddings input: text, texts, token ids or lists of token ids. */
function promptTokens(p: unknown): number {
  if (typeof p === "string") return textTokens(p);
  if (typeof p === "number") return 1;
  if (!Array.isArray(p)) return jsonTokens(p);
  let n = 0;
  for (const item of p) n += promptTokens(item);
  return n;
}

/**
 * Estimates the prompt tokens of a chat (`messages`), completions (`prompt`) or embeddings
 * (`input`) body. Always at least 1, so a reservation never rounds a real request to nothing.
 */
export function estimatePromptTokens(body: PromptBearingBody): number {
  let n = 0;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) n += messageTokens(m);
    n += REPLY_PRIMING_TOKENS + jsonTokens(body.tools) + jsonTokens(body.functions);
  }
  if (body.prompt !== undefined) n += promptTokens(body.prompt);
  if (body.input !== undefined) n += promptTokens(body.input);
  return Math.max(1, n);
}
