/** The agent's failures that end it, and the OpenAI-shaped error bodies it answers with. */

/** Bad or missing configuration: one line on stderr, exit 2. */
export class ConfigError extends Error {}

/** A refusal that retrying will not change (the gateway said no, the engine serves another model): one line, exit 1. */
export class FatalError extends Error {}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function openAiError(message: string, type: string, code: string | null, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

/** An error as one line: its message and, for network failures, the cause's code (ECONNREFUSED…). */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : null;
    return detail ? `${err.message}: ${detail}` : err.message;
  }
  return String(err);
}
