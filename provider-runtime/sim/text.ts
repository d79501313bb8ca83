/**
 * Deterministic "model" output for the simulated engine. Pure: no clock, no I/O, no randomness.
 *
 * Token rule (the simulator's tokenizer, documented because tests and the gateway's metering rely on it):
 * - a text is one token per whitespace-separated word (`countPromptTokens`);
 * - a chat prompt is the sum over messages of (words in its text + 1), the +1 standing for the role/template
 *   overhead every message carries (`countChatPromptTokens`);
 * - generated output is one token per vocabulary word: the first token is the bare word, every later token
 *   is " word", so completion_tokens equals the number of content chunks a stream carries.
 */

const VOCAB = [
  "amber",
  "basalt",
  "cedar",
  "delta",
  "ember",
  "fjord",
  "glacier",
  "harbor",
  "island",
  "jasper",
  "kelp",
  "lagoon",
  "meadow",
  "nebula",
  "orchid",
  "pebble",
  "quartz",
  "river",
  "summit",
  "tundra",
  "umber",
  "valley",
  "willow",
  "xenon",
  "yarrow",
  "zephyr",
  "aurora",
  "breeze",
  "canyon",
  "dune",
  "estuary",
  "forest",
  "grove",
  "horizon",
  "inlet",
  "jungle",
  "knoll",
  "lantern",
  "marsh",
  "north",
  "ocean",
  "prairie",
  "quiet",
  "reef",
  "shore",
  "tide",
  "upland",
  "vista",
  "wave",
  "yonder",
  "zenith",
  "atlas",
  "beacon",
  "comet",
  "drift",
  "echo",
  "falcon",
  "granite",
  "heron",
  "ivory",
  "juniper",
  "kestrel",
  "lotus",
  "mesa",
] as const;

const MIN_NATURAL_TOKENS = 8;
const MAX_NATURAL_TOKENS = 48;

export type FinishReason = "stop" | "length";

/** One planned choice: exactly the tokens the engine will emit, and why it stops. */
export interface PlannedChoice {
  tokens: string[];
  finishReason: FinishReason;
}

export interface PlanInput {
  prompt: string;
  seed: number;
  /** Which of the request's `n` choices; each choice gets its own sequence. */
  index: number;
  maxTokens: number;
  stop: readonly string[];
  /** vLLM's `ignore_eos`: run to maxTokens instead of ending naturally. */
  ignoreEos?: boolean;
}

/** Words separated by whitespace; an empty or blank text has 0 tokens. */
export function countPromptTokens(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

/** Sum of each message's words plus one per message for the chat template. */
export function countChatPromptTokens(messageTexts: readonly string[]): number {
  return messageTexts.reduce((sum, text) => sum + countPromptTokens(text) + 1, 0);
}

/** An infinite deterministic token sequence for (prompt, seed, choice index). */
export function* simTokens(prompt: string, seed: number, index: number): Generator<string, never> {
  const next = mulberry32(fnv1a(`tokens\u241f${seed}\u241f${index}\u241f${prompt}`));
  for (let i = 0; ; i++) {
    const word = VOCAB[Math.floor(next() * VOCAB.length)] ?? VOCAB[0];
    yield i === 0 ? word : ` ${word}`;
  }
}

/** Where the sequence would end by itself (its EOS), between 8 and 48 tokens. */
export function naturalLength(prompt: string, seed: number, index: number): number {
  const span = MAX_NATURAL_TOKENS - MIN_NATURAL_TOKENS + 1;
  return MIN_NATURAL_TOKENS + (fnv1a(`length\u241f${seed}\u241f${index}\u241f${prompt}`) % span);
}

/**
 * The whole output of one choice, decided up front so a stream never shows text that a stop string would
 * later remove. A stop string cuts the text just before it (a token it splits keeps its prefix); the
 * tokens that formed the stop string are not emitted and not counted.
 */
export function planChoice(input: PlanInput): PlannedChoice {
  const natural = naturalLength(input.prompt, input.seed, input.index);
  const endsNaturally = !input.ignoreEos && natural < input.maxTokens;
  const limit = endsNaturally ? natural : input.maxTokens;
  const stops = input.stop.filter((s) => s.length > 0);
  const longestStop = Math.max(0, ...stops.map((s) => s.length));
  const source = simTokens(input.prompt, input.seed, input.index);
  const tokens: string[] = [];
  let text = "";
  for (let i = 0; i < limit; i++) {
    const token = source.next().value;
    // A new match can only start in the last (longestStop - 1) characters already seen.
    const from = Math.max(0, text.length - longestStop + 1);
    text += token;
    tokens.push(token);
    const cut = firstStopIndex(text, stops, from);
    if (cut !== -1) return { tokens: cutTokens(tokens, cut), finishReason: "stop" };
  }
  return { tokens, finishReason: endsNaturally ? "stop" : "length" };
}

/** A deterministic unit-length vector for an embedding input. */
export function embedText(text: string, dimensions: number): number[] {
  const next = mulberry32(fnv1a(`embed\u241f${dimensions}\u241f${text}`));
  const raw = Array.from({ length: dimensions }, () => next() * 2 - 1);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => v / norm);
}

function firstStopIndex(text: string, stops: readonly string[], from: number): number {
  let best = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop, from);
    if (at !== -1 && (best === -1 || at < best)) best = at;
  }
  return best;
}

/** Keep the tokens whose text lies before `cut`, trimming the one that straddles it. */
function cutTokens(tokens: readonly string[], cut: number): string[] {
  const kept: string[] = [];
  let offset = 0;
  for (const token of tokens) {
    if (offset >= cut) break;
    const piece = token.slice(0, cut - offset);
    if (piece !== "") kept.push(piece);
    offset += token.length;
  }
  return kept;
}

/** 32-bit FNV-1a over UTF-16 code units: stable across runs and platforms. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Small seeded PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
