/**
 * The one way a route reads its input: the JSON body or the query string through a zod schema,
 * a failure being an OpenAI-style 400 (core/openai/validation.ts) that tells the SDK not to retry.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { decodeUtf8, isJsonMediaType, MAX_JSON_DEPTH, nestsDeeperThan } from "../core/openai/body-text";
import { errors } from "../core/openai/errors";
import { parseBody } from "../core/openai/schemas";
import { validate } from "../core/openai/validation";

/**
 * The body as JSON, not yet validated. Each refusal is a 400, never a stack trace, and comes before
 * anything is forwarded: a Content-Type other than application/json, bytes that are not UTF-8,
 * empty or invalid JSON, nesting deeper than MAX_JSON_DEPTH. (Size is capped by bodyLimit.)
 */
export async function readJsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? null;
  if (!isJsonMediaType(type)) throw errors.unsupportedContentType(type);
  const text = decodeUtf8(await c.req.arrayBuffer());
  if (text === null) throw errors.invalidUtf8();
  if (text.trim() === "") throw errors.emptyBody();
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw errors.nestingTooDeep(MAX_JSON_DEPTH);
  try {
    return JSON.parse(text);
  } catch {
    throw errors.invalidJson();
  }
}

/** The body, a JSON object, through `schema`. */
export async function parseJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  return parseBody(schema, await readJsonBody(c));
}

/** The query string (one value per name) through `schema`; a strict schema refuses unknown names. */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return validate(schema, c.req.query());
}
