/**
 * The one way a route reads its input: the JSON body, a form or the query string through a zod
 * schema, a failure being an OpenAI-style 400 (core/openai/validation.ts) that names its param and
 * tells the SDK not to retry. No route reads a body any other way (test/architecture enforces it).
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

/** An optional JSON body: none (or only whitespace) reads as `{}`; anything else is parsed as `parseJsonBody` does. */
export async function parseOptionalJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d)) return validate(schema, {});
  return parseJsonBody(c, schema);
}

const FORM_MEDIA_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"];

/**
 * A browser form (urlencoded or multipart) through `schema`: a body of another type, or one that
 * does not parse as its type says, is a 400 like any other, never a stack trace.
 */
export async function parseFormBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!FORM_MEDIA_TYPES.includes(type.split(";", 1)[0]!.trim().toLowerCase())) {
    throw errors.invalidRequest(
      `Send the form as ${FORM_MEDIA_TYPES.join(" or ")}${type ? `, not '${type.slice(0, 100)}'` : ""}.`,
      null,
      "unsupported_content_type",
    );
  }
  let form: Record<string, unknown>;
  try {
    form = await c.req.parseBody();
  } catch {
    throw errors.invalidRequest("The request body is not a valid form.", null, "invalid_form");
  }
  return validate(schema, form);
}

/** The query string (one value per name) through `schema`; a strict schema refuses unknown names. */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return validate(schema, c.req.query());
}
