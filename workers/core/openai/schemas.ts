/**
 * The public API's request bodies. Loose objects: fields OpenAI accepts that we do not
 * interpret (tools, response_format, seed, logprobs, user, …) pass through to the provider.
 * We validate only what we read or what a provider would choke on, and name the offending param.
 */
import { z } from "zod";
import { errors } from "./errors";
import { describeValue, validate } from "./validation";

const TextPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(TextPart), z.null()]).optional(),
  name: z.string().optional(),
});

const Stop = z
  .union([z.string(), z.array(z.string()).max(4)])
  .nullable()
  .optional();
const StreamOptions = z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional();
const positiveInt = z.number().int().positive();

/** OpenRouter-style fallback models: tried in order when a model cannot serve. */
const Models = z.array(z.string().min(1)).min(1).max(5).optional();

const Sampling = {
  stream: z.boolean().nullable().optional(),
  stream_options: StreamOptions,
  max_tokens: positiveInt.nullable().optional(),
  n: z.number().int().min(1).max(16).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  stop: Stop,
  seed: z.number().int().nullable().optional(),
  models: Models,
  // The routing preferences object is validated by core/routing/steering.ts.
  provider: z.unknown().optional(),
};

export const ChatRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  max_completion_tokens: positiveInt.nullable().optional(),
  ...Sampling,
});
export type ChatRequest = z.infer<typeof ChatRequest>;

export const CompletionRequest = z.looseObject({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int()).min(1), z.array(z.array(z.number().int())).min(1)]),
  ...Sampling,
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

export const EmbeddingRequest = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int()).min(1), z.array(z.array(z.number().int())).min(1)]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: positiveInt.optional(),
  models: Models,
  provider: z.unknown().optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

export type InferenceRequest = ChatRequest | CompletionRequest | EmbeddingRequest;

/** Parses a body with a schema; a failure becomes a 400 naming the first offending param. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw errors.bodyNotAnObject(describeValue(body));
  }
  return validate(schema, body);
}
