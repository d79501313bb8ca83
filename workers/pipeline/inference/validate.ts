/**
 * Validate: a parsed OpenAI body becomes the request the pipeline serves — its models (with
 * OpenRouter-style fallbacks), streaming and usage wishes, prompt estimate, output cap and steering.
 * Fields we do not interpret stay in `body` and reach the provider untouched.
 */
import type { KeyRecord } from "../../core/auth/keys";
import { estimatePromptTokens } from "../../core/money/estimate";
import { errors } from "../../core/openai/errors";
import type { ChatRequest, CompletionRequest, EmbeddingRequest } from "../../core/openai/schemas";
import { validate } from "../../core/openai/validation";
import { ProviderPreferences } from "../../core/routing/steering";
import type { Endpoint } from "../../core/routing/types";
import type { UpstreamPath } from "../../ports";

/** One inference call's facts that come from the HTTP exchange, not the body. */
export interface InferenceCall {
  requestId: string;
  key: KeyRecord;
  startedAtMs: number;
  /** The caller's edge location (`request.cf.colo`), for the latency table. */
  edge: string;
  /** Aborts when the client disconnects (compatibility flag enable_request_signal). */
  signal?: AbortSignal;
}

export type InferenceBody =
  | { endpoint: "chat"; body: ChatRequest }
  | { endpoint: "completions"; body: CompletionRequest }
  | { endpoint: "embeddings"; body: EmbeddingRequest };

export interface InferenceRequest {
  endpoint: Endpoint;
  path: UpstreamPath;
  /** The client's body; `model` is rewritten per attempt, everything else passes through. */
  body: Record<string, unknown>;
  /** The model asked for, then its fallbacks, without repeats. */
  models: string[];
  stream: boolean;
  /** The client asked for the usage chunk (we always ask the provider for it). */
  includeUsage: boolean;
  promptTokens: number;
  maxOutputTokens: number | null;
  steering: ProviderPreferences | undefined;
}

const PATHS: Record<Endpoint, UpstreamPath> = {
  chat: "/v1/chat/completions",
  completions: "/v1/completions",
  embeddings: "/v1/embeddings",
};

export function validateInference(input: InferenceBody, key: KeyRecord): InferenceRequest {
  const { body } = input;
  const models = [...new Set([body.model, ...(body.models ?? [])])];
  const denied = models.find((m) => key.allowedModels && !key.allowedModels.includes(m));
  if (denied) throw errors.forbidden(`This API key may not use the model '${denied}'.`);
  const stream = input.endpoint !== "embeddings" && input.body.stream === true;
  const includeUsage = input.endpoint !== "embeddings" && stream && input.body.stream_options?.include_usage === true;
  const maxOutputTokens =
    input.endpoint === "embeddings"
      ? null
      : ((input.endpoint === "chat" ? input.body.max_completion_tokens : null) ?? input.body.max_tokens ?? null);
  return {
    endpoint: input.endpoint,
    path: PATHS[input.endpoint],
    body,
    models,
    stream,
    includeUsage,
    promptTokens: estimatePromptTokens(body),
    maxOutputTokens,
    steering: parseSteering(body.provider),
  };
}

/** The OpenRouter-style `provider` object, validated like the rest of the body (its errors name `provider.…`). */
function parseSteering(raw: unknown): ProviderPreferences | undefined {
  return raw === undefined || raw === null ? undefined : validate(ProviderPreferences, raw, ["provider"]);
}
