import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { z } from "zod";
import { driveGeneration } from "./drive";
import type { SimContext } from "./engine";
import { dropConnection, invalidFromZod, invalidRequest, modelNotFound, sendError, type SimErrorBody } from "./http-io";
import type { SimMode } from "./modes";
import { createJsonSink, createSseSink } from "./sinks";
import { countChatPromptTokens, countPromptTokens, planChoice, type PlannedChoice } from "./text";

/** vLLM's default would be "the rest of the context"; a short default keeps tests and demos quick. */
const DEFAULT_MAX_TOKENS = 64;

// Loose objects: unknown OpenAI/vLLM fields are accepted and ignored, as vLLM does.
const Stop = z.union([z.string(), z.array(z.string()).max(16)]).nullish();
const TokenLimit = z.number().int().min(1).nullish();
const common = {
  model: z.string().min(1),
  n: z.number().int().min(1).max(128).nullish(),
  seed: z.number().int().nullish(),
  max_tokens: TokenLimit,
  stop: Stop,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  /** vLLM extension: ignore the natural end and generate max_tokens (handy for benchmarks). */
  ignore_eos: z.boolean().nullish(),
};
const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
export const SimChatMessage = z.looseObject({ role: z.string().min(1), content: z.union([z.string(), z.array(ContentPart)]).nullish() });

export const SimChatRequest = z.looseObject({
  ...common,
  messages: z.array(SimChatMessage).min(1),
  max_completion_tokens: TokenLimit,
  /** vLLM: continue the final (assistant) message instead of opening a new one; exclusive with add_generation_prompt. */
  continue_final_message: z.boolean().nullish(),
  add_generation_prompt: z.boolean().nullish(),
});
export type SimChatRequest = z.infer<typeof SimChatRequest>;

export const SimCompletionRequest = z.looseObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(256)]),
});
export type SimCompletionRequest = z.infer<typeof SimCompletionRequest>;

export type GenerationKind = "chat" | "text";

/** A request reduced to what generation needs; one prompt per completions prompt, one for a chat. */
interface Job {
  model: string;
  prompts: { text: string; tokens: number }[];
  promptParam: string;
  n: number;
  seed: number;
  maxTokens: number | null;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  ignoreEos: boolean;
  /** Tokens of the answer already written (a continued final message): the plan resumes after them. */
  prefilled: number;
}

export interface RequestIo {
  res: ServerResponse;
  signal: AbortSignal;
}

/** POST /v1/chat/completions and /v1/completions, streaming or not. */
export async function serveGeneration(ctx: SimContext, kind: GenerationKind, body: unknown, mode: SimMode, io: RequestIo): Promise<void> {
  const job = kind === "chat" ? chatJob(body) : completionJob(body);
  if ("message" in job) return sendError(io.res, 400, job);
  if (mode.mode === "reject_prefill" && job.prefilled > 0)
    return sendError(io.res, 400, invalidRequest("This engine does not continue a final message.", "continue_final_message", null));
  if (job.model !== ctx.config.model) return sendError(io.res, 404, modelNotFound(job.model));
  const tooLong = checkContext(job, ctx.config.contextLength);
  if (tooLong) return sendError(io.res, 400, tooLong);

  const plan = job.prompts.flatMap((prompt) =>
    Array.from({ length: job.n }, (_, index) =>
      resumed(
        planChoice({
          prompt: prompt.text,
          seed: job.seed,
          index,
          maxTokens: job.prefilled + (job.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, ctx.config.contextLength - prompt.tokens)),
          stop: job.stop,
          ignoreEos: job.ignoreEos,
        }),
        job.prefilled,
      ),
    ),
  );
  const meta = {
    kind,
    id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replace(/-/g, "")}`,
    created: Math.floor(Date.now() / 1000),
    model: mode.mode === "wrong_model" ? mode.model : job.model,
    choices: plan.length,
    includeUsage: job.stream && job.includeUsage,
  };
  await driveGeneration({
    plan,
    promptTokens: job.prompts.reduce((sum, p) => sum + p.tokens, 0),
    mode,
    timing: ctx.config,
    sink: job.stream ? createSseSink(io.res, io.signal, meta) : createJsonSink(io.res, meta),
    metrics: ctx.metrics,
    signal: io.signal,
    drop: () => dropConnection(io.res.socket),
  });
}

/** A plan without the tokens a prefill already holds. */
const resumed = (p: PlannedChoice, prefilled: number): PlannedChoice => (prefilled === 0 ? p : { ...p, tokens: p.tokens.slice(prefilled) });

function chatJob(body: unknown): Job | SimErrorBody {
  const parsed = SimChatRequest.safeParse(body);
  if (!parsed.success) return invalidFromZod(parsed.error);
  const req = parsed.data;
  const prefill = continuedMessage(req);
  if (prefill !== null && typeof prefill === "object") return prefill;
  // A continued final message is the answer so far, not the prompt: the same deterministic answer
  // goes on from where the prefill ends (its words are its tokens, under the simulator's tokenizer).
  const asked = prefill === null ? req.messages : req.messages.slice(0, -1);
  const texts = asked.map((m) => messageText(m.content));
  const text = asked.map((m, i) => `${m.role}: ${texts[i]}`).join("\n");
  return {
    ...commonJob(req),
    prefilled: prefill === null ? 0 : countPromptTokens(prefill),
    prompts: [{ text, tokens: chatPromptTokens(req.messages) }],
    promptParam: "messages",
    maxTokens: req.max_completion_tokens ?? req.max_tokens ?? null,
  };
}

/** A chat prompt's tokens under the simulator's tokenizer (also what /tokenize answers). */
export function chatPromptTokens(messages: readonly z.infer<typeof SimChatMessage>[]): number {
  return countChatPromptTokens(messages.map((m) => messageText(m.content)));
}

/** vLLM's rules for continue_final_message: the prefill's text, null when not continuing, or the 400. */
function continuedMessage(req: SimChatRequest): string | null | SimErrorBody {
  if (req.continue_final_message !== true) return null;
  if (req.add_generation_prompt === true)
    return invalidRequest("Cannot set both `continue_final_message` and `add_generation_prompt` to True.", "continue_final_message", null);
  const last = req.messages.at(-1);
  if (last?.role !== "assistant")
    return invalidRequest("continue_final_message requires the final message to be the assistant's.", "messages", null);
  return messageText(last.content);
}

function completionJob(body: unknown): Job | SimErrorBody {
  const parsed = SimCompletionRequest.safeParse(body);
  if (!parsed.success) return invalidFromZod(parsed.error);
  const req = parsed.data;
  const prompts = typeof req.prompt === "string" ? [req.prompt] : req.prompt;
  return {
    ...commonJob(req),
    prefilled: 0,
    prompts: prompts.map((text) => ({ text, tokens: countPromptTokens(text) })),
    promptParam: "prompt",
    maxTokens: req.max_tokens ?? null,
  };
}

function commonJob(req: SimChatRequest | SimCompletionRequest) {
  return {
    model: req.model,
    n: req.n ?? 1,
    seed: req.seed ?? 0,
    stop: req.stop == null ? [] : typeof req.stop === "string" ? [req.stop] : req.stop,
    stream: req.stream ?? false,
    includeUsage: req.stream_options?.include_usage ?? false,
    ignoreEos: req.ignore_eos ?? false,
  };
}

/** Text parts joined by newlines; images and other parts carry no tokens in the simulator. */
function messageText(content: z.infer<typeof SimChatMessage>["content"]): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

/** vLLM's 400s: a prompt that fills the context, or a max_tokens that does not fit beside it. */
function checkContext(job: Job, contextLength: number): SimErrorBody | null {
  for (const prompt of job.prompts) {
    if (prompt.tokens >= contextLength) {
      return invalidRequest(
        `This model's maximum context length is ${contextLength} tokens. However, your request has ` +
          `${prompt.tokens} input tokens. Please reduce the length of the input messages.`,
        job.promptParam,
        "context_length_exceeded",
      );
    }
    if (job.maxTokens !== null && job.maxTokens > contextLength - prompt.tokens) {
      return invalidRequest(
        `'max_tokens' is too large: ${job.maxTokens}. This model's maximum context length is ${contextLength} ` +
          `tokens and your request has ${prompt.tokens} input tokens (${job.maxTokens} > ${contextLength} - ${prompt.tokens}).`,
        "max_tokens",
        "context_length_exceeded",
      );
    }
  }
  return null;
}
