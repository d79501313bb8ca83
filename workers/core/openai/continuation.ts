/**
 * Mid-stream continuation, the pure part: whether a stream that broke after bytes reached the
 * client may be continued by another provider, the continuation's upstream body (vLLM's prefill:
 * the original request plus the partial assistant output), and how the continuation's chunks are
 * rewritten so the client sees one answer (the first stream's id, created and model; choice index
 * 0; no second role chunk; one final usage chunk with both parts' counts).
 *
 * vLLM's semantics (protocol.py, ChatCompletionRequest): `continue_final_message: true` makes the
 * engine continue the last message, which must be the assistant's, instead of opening a new one;
 * it is exclusive with `add_generation_prompt: true` (the default, so it is sent as false).
 * Completions have no roles: the continuation's prompt is the prompt followed by the partial text.
 */
import type { TokenCounts } from "./chunks";

/** What the gateway kept of the first stream: its identity and the text the client received. */
export interface Transcript {
  /** The first stream's chunk id, created and model, as the client saw them. */
  id: string | null;
  created: number | null;
  model: string | null;
  /** The content (chat `delta.content`, completions `text`) of choice 0, as delivered. */
  text: string;
  /** A tool call, reasoning, or a choice other than 0 was streamed: not continuable (see below). */
  unsplicable: boolean;
  finishSeen: boolean;
}

export const emptyTranscript = (): Transcript => ({
  id: null,
  created: null,
  model: null,
  text: "",
  unsplicable: false,
  finishSeen: false,
});

export interface ContinuableRequest {
  endpoint: "chat" | "completions" | "embeddings";
  stream: boolean;
  body: Record<string, unknown>;
  maxOutputTokens: number | null;
  /** The request's `provider.continuation` (false: the caller opted out). */
  optIn: boolean | undefined;
}

export type NoContinuation = "opted_out" | "not_streaming" | "multiple_choices" | "unsplicable" | "finished" | "cap_reached";

/**
 * Why this stream may not be continued, or null if it may. Excluded: `n > 1` and completions with
 * several prompts (the choices would have to be continued one by one and re-interleaved), and a
 * stream whose output holds tool calls or reasoning (a prefill carries only the assistant's content:
 * a half-written tool call's arguments or the thinking channel cannot be handed to another engine
 * to finish, and tool-call ids would change).
 */
export function whyNotContinue(req: ContinuableRequest, t: Transcript, deliveredTokens: number): NoContinuation | null {
  if (req.optIn === false) return "opted_out";
  if (!req.stream || req.endpoint === "embeddings") return "not_streaming";
  const n = req.body.n;
  if ((typeof n === "number" && n > 1) || (req.endpoint === "completions" && typeof req.body.prompt !== "string"))
    return "multiple_choices";
  if (t.unsplicable) return "unsplicable";
  if (t.finishSeen) return "finished";
  if (req.maxOutputTokens !== null && deliveredTokens >= req.maxOutputTokens) return "cap_reached";
  return null;
}

/** The continuation's output cap: the original cap minus what was delivered (null: no cap asked). */
export function remainingCap(maxOutputTokens: number | null, deliveredTokens: number): number | null {
  return maxOutputTokens === null ? null : Math.max(1, maxOutputTokens - deliveredTokens);
}

/**
 * The continuation's body: the client's body with the partial output as a prefill and the cap
 * lowered. Nothing delivered yet: the body as it was (a plain retry, the cap unchanged).
 */
export function continuationBody(
  endpoint: "chat" | "completions",
  body: Record<string, unknown>,
  partial: string,
  cap: number | null,
): Record<string, unknown> {
  if (partial === "") return body;
  const capped = withCap(endpoint, body, cap);
  if (endpoint === "completions") return { ...capped, prompt: `${String(body.prompt)}${partial}` };
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return {
    ...capped,
    messages: [...messages, { role: "assistant", content: partial }],
    continue_final_message: true,
    add_generation_prompt: false,
  };
}

function withCap(endpoint: "chat" | "completions", body: Record<string, unknown>, cap: number | null): Record<string, unknown> {
  if (cap === null) return body;
  const out = { ...body };
  if (endpoint === "chat" && out.max_completion_tokens !== undefined && out.max_completion_tokens !== null) out.max_completion_tokens = cap;
  else out.max_tokens = cap;
  return out;
}

/** The request id of the n-th continuation of a request: `<rid>.<n>` (its own usage event and receipt). */
export const continuationRequestId = (requestId: string, n = 1): string => `${requestId}.${n}`;

/** Follows the first stream: its identity from the first chunk that has one, choice 0's text. */
export function noteChunk(t: Transcript, chunk: Record<string, unknown>): void {
  if (t.id === null && typeof chunk.id === "string") {
    t.id = chunk.id;
    t.created = typeof chunk.created === "number" ? chunk.created : null;
    t.model = typeof chunk.model === "string" ? chunk.model : null;
  }
  for (const c of choicesOf(chunk)) {
    if (typeof c.finish_reason === "string" && c.finish_reason !== "") t.finishSeen = true;
    const d = isObject(c.delta) ? c.delta : {};
    const hasText = typeof d.content === "string" || typeof c.text === "string";
    if ((c.index ?? 0) !== 0 && hasText) t.unsplicable = true;
    if ((Array.isArray(d.tool_calls) && d.tool_calls.length > 0) || nonEmpty(d.reasoning) || nonEmpty(d.reasoning_content))
      t.unsplicable = true;
    if ((c.index ?? 0) === 0) t.text += typeof d.content === "string" ? d.content : typeof c.text === "string" ? c.text : "";
  }
}

/** The first stream's identity, stamped on every chunk of the continuation. */
export interface SpliceInto {
  id: string | null;
  created: number | null;
  model: string | null;
}

/**
 * A continuation chunk as the client gets it: the first stream's id/created/model, choice index 0;
 * null for the continuation's opening role chunk (nothing but `role` and empty content).
 */
export function spliceChunk(chunk: Record<string, unknown>, into: SpliceInto): Record<string, unknown> | null {
  const choices = choicesOf(chunk);
  if (Array.isArray(chunk.choices) && choices.length > 0 && choices.every(isRoleOnly)) return null;
  const out: Record<string, unknown> = { ...chunk };
  if (into.id !== null) out.id = into.id;
  if (into.created !== null) out.created = into.created;
  if (into.model !== null) out.model = into.model;
  if (Array.isArray(chunk.choices)) out.choices = choices.map((c) => ({ ...c, index: 0 }));
  return out;
}

/** Both parts' counts, as the one usage chunk the client gets reports them. */
export const sumCounts = (a: TokenCounts, b: TokenCounts): TokenCounts => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
});

type LooseChoice = Record<string, unknown> & { index?: number; delta?: unknown; text?: unknown; finish_reason?: unknown };

function choicesOf(chunk: Record<string, unknown>): LooseChoice[] {
  return Array.isArray(chunk.choices) ? chunk.choices.filter(isObject) : [];
}

function isRoleOnly(c: LooseChoice): boolean {
  if (typeof c.finish_reason === "string" && c.finish_reason !== "") return false;
  if (nonEmpty(c.text)) return false;
  const d = isObject(c.delta) ? c.delta : {};
  const keys = Object.keys(d).filter((k) => d[k] !== null && d[k] !== undefined && d[k] !== "");
  return keys.every((k) => k === "role");
}

const nonEmpty = (v: unknown) => typeof v === "string" && v.length > 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
