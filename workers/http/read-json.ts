import type { Context } from "hono";
import { errors } from "../core/openai/errors";

/** The body as JSON; invalid JSON is a 400, never a stack trace. (Size is capped by bodyLimit.) */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") throw errors.invalidRequest("The request body is empty; send a JSON object.", null, "invalid_json");
  try {
    return JSON.parse(text);
  } catch {
    throw errors.invalidJson();
  }
}
