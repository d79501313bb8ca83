/**
 * The one way a route reads its input: the JSON body or the query string through a zod schema,
 * a failure being an OpenAI-style 400 (core/openai/validation.ts) that tells the SDK not to retry.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { errors } from "../core/openai/errors";
import { parseBody } from "../core/openai/schemas";
import { validate } from "../core/openai/validation";

/** The body as JSON, not yet validated; empty or invalid JSON is a 400, never a stack trace. (Size is capped by bodyLimit.) */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw errors.emptyBody();
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
