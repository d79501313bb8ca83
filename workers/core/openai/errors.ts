/** OpenAI-shaped errors. `render-error.ts` is the only place that turns these into responses. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.headers = { ...headers };
  }
  readonly headers: Readonly<Record<string, string>>;
  /** The same error with more response headers (rate-limit state, the attempts made): a new error, never a mutation. */
  withHeaders(more: Readonly<Record<string, string>>): ApiError {
    return new ApiError(this.status, this.type, this.code, this.message, this.param, { ...this.headers, ...more });
  }
  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export type UpstreamPhase = "connect" | "headers" | "first_byte" | "body";

/** A provider failed. `phase` says how far it got, which decides whether another provider may be tried. */
export class UpstreamError extends Error {
  constructor(
    readonly providerId: string,
    readonly phase: UpstreamPhase,
    readonly status: number | null,
    message: string,
    /** The provider's own error body, when it sent one (a 4xx reason reaches the client). */
    readonly upstreamBody: { message?: string; type?: string; code?: string | null; param?: string | null } | null = null,
    /** Seconds from a 429's Retry-After, when given. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
  /**
   * Another provider may be tried only while the client has seen nothing, and only if another could help.
   * A 3xx (a redirect, never followed) is the provider misbehaving, not the request's fault.
   */
  get canFailover(): boolean {
    if (this.phase === "body") return false;
    if (this.status === null) return true;
    return (this.status >= 300 && this.status < 400) || this.status === 408 || this.status === 429 || this.status >= 500;
  }
  /** A stalled provider is not tried again on the same route. */
  get isStall(): boolean {
    return this.phase === "first_byte" && this.status === null;
  }
}

const shouldNotRetry = { "x-should-retry": "false" };
const named = (param: string | null) => (param === null ? "the request body" : `'${param}'`);

export const errors = {
  missingKey: () =>
    new ApiError(
      401,
      "invalid_request_error",
      "invalid_api_key",
      "You didn't provide an API key. Send it as 'Authorization: Bearer mg-...'.",
      null,
      shouldNotRetry,
    ),
  invalidKey: () => new ApiError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.", null, shouldNotRetry),
  forbidden: (message: string) => new ApiError(403, "permission_error", "forbidden", message, null, shouldNotRetry),
  // Every 400: the same request fails the same way, so the SDK is told not to retry it.
  invalidRequest: (message: string, param: string | null = null, code: string | null = null) =>
    new ApiError(400, "invalid_request_error", code, message, param, shouldNotRetry),
  invalidJson: () =>
    new ApiError(400, "invalid_request_error", "invalid_json", "The request body is not valid JSON.", null, shouldNotRetry),
  emptyBody: () =>
    new ApiError(400, "invalid_request_error", "invalid_json", "The request body is empty; send a JSON object.", null, shouldNotRetry),
  /** OpenAI's code and wording for a body that is not declared as JSON (it answers 400, not 415). */
  unsupportedContentType: (contentType: string | null) =>
    new ApiError(
      400,
      "invalid_request_error",
      "unsupported_content_type",
      contentType
        ? `Unsupported content type: '${contentType.slice(0, 100)}'. This API method only accepts 'application/json' requests, but you specified the header 'Content-Type: ${contentType.slice(0, 100)}'. Please try again with a supported content type.`
        : "Missing content type. This API method only accepts 'application/json' requests; send the header 'Content-Type: application/json'.",
      null,
      shouldNotRetry,
    ),
  invalidUtf8: () =>
    new ApiError(400, "invalid_request_error", "invalid_json", "The request body is not valid UTF-8.", null, shouldNotRetry),
  nestingTooDeep: (maxDepth: number) =>
    new ApiError(
      400,
      "invalid_request_error",
      "invalid_json",
      `The request body nests arrays and objects more than ${maxDepth} levels deep.`,
      null,
      shouldNotRetry,
    ),
  bodyNotAnObject: (received: string) =>
    new ApiError(
      400,
      "invalid_request_error",
      "invalid_type",
      `The request body must be a JSON object, but got ${received} instead.`,
      null,
      shouldNotRetry,
    ),
  // Validation failures, in OpenAI's wording (core/openai/validation.ts decides which applies).
  missingParameter: (param: string | null) =>
    new ApiError(
      400,
      "invalid_request_error",
      "missing_required_parameter",
      `Missing required parameter: ${named(param)}.`,
      param,
      shouldNotRetry,
    ),
  invalidType: (param: string | null, expected: string, received: string) =>
    new ApiError(
      400,
      "invalid_request_error",
      "invalid_type",
      `Invalid type for ${named(param)}: expected ${expected}, but got ${received} instead.`,
      param,
      shouldNotRetry,
    ),
  invalidValue: (param: string | null, reason: string) =>
    new ApiError(
      400,
      "invalid_request_error",
      "invalid_value",
      `Invalid value for ${named(param)}: ${reason.replace(/\.$/, "")}.`,
      param,
      shouldNotRetry,
    ),
  unknownParameter: (param: string) =>
    new ApiError(400, "invalid_request_error", "unknown_parameter", `Unknown parameter: '${param}'.`, param, shouldNotRetry),
  bodyTooLarge: (limitBytes: number) =>
    new ApiError(
      413,
      "invalid_request_error",
      "request_too_large",
      `The request body exceeds the limit of ${limitBytes} bytes.`,
      null,
      shouldNotRetry,
    ),
  modelNotFound: (model: string, param = "model") =>
    new ApiError(
      404,
      "invalid_request_error",
      "model_not_found",
      `The model '${model}' does not exist or is not served by any provider.`,
      param,
      shouldNotRetry,
    ),
  notFound: (what: string) => new ApiError(404, "invalid_request_error", "not_found", `${what} not found.`),
  rateLimited: (retryAfterMs: number, message = "Rate limit reached.") =>
    new ApiError(429, "rate_limit_error", "rate_limit_exceeded", message, null, {
      "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
      "retry-after-ms": String(Math.max(0, Math.round(retryAfterMs))),
    }),
  budgetExhausted: (message = "You exceeded your current quota: the account balance or key budget is exhausted.") =>
    new ApiError(402, "insufficient_quota", "insufficient_quota", message, null, shouldNotRetry),
  /** No provider can serve now; a retry may help (the SDK retries 503). */
  noProviderAvailable: (model: string, detail: string) =>
    new ApiError(503, "server_error", "no_provider_available", `No provider could serve '${model}' right now (${detail}).`),
  /** Every provider failed in a way another try could fix. */
  upstreamFailed: (model: string, detail: string) =>
    new ApiError(502, "server_error", "upstream_error", `The providers for '${model}' failed (${detail}).`),
  /**
   * The request's total budget (TOTAL_DEADLINE_MS) ran out before any provider answered. The gateway
   * already failed over and retried within that budget, so the SDK is told not to start it all again.
   */
  deadlineExceeded: (model: string, totalDeadlineMs: number, detail: string) =>
    new ApiError(
      504,
      "timeout",
      "deadline_exceeded",
      `No provider for '${model}' answered within the request's deadline of ${totalDeadlineMs} ms (${detail}).`,
      null,
      shouldNotRetry,
    ),
  /** Steering excluded every provider: no retry helps. */
  noProviderMatches: (model: string, detail: string) =>
    new ApiError(
      404,
      "invalid_request_error",
      "no_provider_matches",
      `No provider for '${model}' matches the request's provider preferences (${detail}).`,
      "provider",
      shouldNotRetry,
    ),
  contextTooLong: (model: string, promptTokens: number, maxTokens: number | null) =>
    new ApiError(
      400,
      "invalid_request_error",
      "context_length_exceeded",
      `This request (about ${promptTokens} prompt tokens${maxTokens ? ` + ${maxTokens} max_tokens` : ""}) exceeds the maximum context length of every provider of '${model}'.`,
      "messages",
      shouldNotRetry,
    ),
  /** A provider's 4xx, passed on with its reason; the same request will fail the same way. */
  fromUpstream: (status: number, type: string, code: string | null, message: string, param: string | null) =>
    new ApiError(status, type, code, message, param, status === 429 || status === 408 ? {} : shouldNotRetry),
  invalidSignature: () =>
    new ApiError(401, "invalid_request_error", "invalid_signature", "The message signature does not verify.", "signature", shouldNotRetry),
  conflict: (message: string, param: string | null = null) =>
    new ApiError(409, "invalid_request_error", "conflict", message, param, shouldNotRetry),
  /** A registration names an endpoint another provider registered (routes/providers.ts). */
  endpointTaken: (endpoint: string) =>
    new ApiError(
      409,
      "invalid_request_error",
      "endpoint_taken",
      `The endpoint ${endpoint} is registered to another provider.`,
      "payload.url",
      shouldNotRetry,
    ),
  /** The agent at a registering endpoint did not sign the gateway's challenge with the registering wallet. */
  endpointNotControlled: (endpoint: string, detail: string) =>
    new ApiError(
      403,
      "permission_error",
      "endpoint_not_controlled",
      `The registering wallet does not control the agent at ${endpoint}: ${detail}.`,
      "payload.url",
      shouldNotRetry,
    ),
  /** A feature whose configuration is absent here (e.g. no chain): not retryable until configured. */
  /** This gateway instance is stopping (an orderly drain): the same request may be sent again at once. */
  shuttingDown: () =>
    new ApiError(503, "server_error", "server_shutting_down", "This gateway instance is shutting down; retry the request.", null, {
      "retry-after": "1",
    }),
  notConfigured: (message: string) => new ApiError(503, "server_error", "not_configured", message, null, shouldNotRetry),
  /** A job that cannot go on without an operator (an escrow shortfall, a deep reorg). */
  jobBlocked: (message: string, code: string) => new ApiError(409, "invalid_request_error", code, message, null, shouldNotRetry),
  /** The chain's node could not be reached (503, retryable) or answered an error (502). */
  chainFailed: (reached: boolean, message: string) =>
    reached ? new ApiError(502, "server_error", "chain_error", message) : new ApiError(503, "server_error", "chain_unavailable", message),
  /** The path exists, but not for this method: `Allow` lists the methods it takes. */
  methodNotAllowed: (method: string, path: string, allow: readonly string[]) =>
    new ApiError(
      405,
      "invalid_request_error",
      "method_not_allowed",
      `Method ${method} is not allowed on ${path.slice(0, 200)}; it accepts ${allow.join(", ")}.`,
      null,
      { ...shouldNotRetry, allow: allow.join(", ") },
    ),
  internal: (requestId: string) =>
    new ApiError(500, "server_error", "internal_error", `The server had an error while processing your request. Request id: ${requestId}.`),
};
