/**
 * The relay's fast path: recognising, without JSON.parse, the chunk that makes up almost every
 * event of a stream — one choice (index 0) with a text delta, no finish_reason, no usage (absent or
 * `null`), no error — so that it can pass through as the bytes it came as.
 *
 * The match is positive and anchored: the whole event data must be compact JSON of exactly this
 * shape (the fields vLLM and OpenAI send, in their order; strings with valid escapes only), so a
 * match is valid JSON that JSON.parse would read as such a chunk. Anything else — a finish_reason,
 * a usage object, several choices, a tool call, reasoning, whitespace, an unknown field, an error —
 * does not match and takes the full parse (./usage-tap.ts), which decides exactly as before.
 */

/** What the full parse would have read from a plain content chunk. */
export interface PlainChunk {
  /** Choice 0's `delta.content` (chat) or `text` (completions), unescaped. */
  text: string;
  /** Whether the data ends with `,"usage":null}` (a client that did not ask for usage gets it removed). */
  nullUsage: boolean;
}

/** A JSON string's body: no raw quote, backslash or control character; only JSON's escapes. */
const STR = String.raw`[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*`;
/** The head fields before `choices`, in any order and number: plain strings (no escapes), an integer, or null. */
const HEAD = String.raw`(?:"(?:id|object|model|system_fingerprint|service_tier)":(?:"[^"\\\x00-\x1f]*"|null),|"created":(?:0|[1-9]\d{0,15}),)*`;
const DELTA = String.raw`"delta":\{(?:"role":"assistant",)?"content":"(${STR})"\}`;
const TEXT = String.raw`"text":"(${STR})"`;
const CHOICE = String.raw`\{"index":0,(?:${DELTA}|${TEXT})(?:,"logprobs":null)?,"finish_reason":null(?:,"stop_reason":null)?\}`;
const PLAIN = new RegExp(String.raw`^\{${HEAD}"choices":\[${CHOICE}\](,"usage":null)?\}$`);

/** The plain content chunk's facts, or null when the data needs the full parse. */
export function plainChunk(data: string): PlainChunk | null {
  // Cheap refusals first: every plain chunk is an object, and this leaves most other events out.
  if (data.charCodeAt(0) !== 0x7b || data.charCodeAt(data.length - 1) !== 0x7d) return null;
  const m = PLAIN.exec(data);
  if (!m) return null;
  const raw = m[1] ?? m[2] ?? "";
  return { text: raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw, nullUsage: m[3] !== undefined };
}

/** The data without its trailing `,"usage":null` (what the full path's re-encoding without usage meant). */
export const withoutNullUsage = (data: string): string => `${data.slice(0, data.length - ',"usage":null}'.length)}}`;
