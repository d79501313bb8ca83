/** The only place a failure gets a status. Unknown errors become a 500 with no internals. */
import { ApiError, errors } from "../core/openai/errors";

export function renderError(err: unknown, requestId: string, log: (msg: string) => void = console.error): Response {
  const api = err instanceof ApiError ? err : errors.internal(requestId);
  if (!(err instanceof ApiError)) log(`[${requestId}] unhandled: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return Response.json(api.toJSON(), {
    status: api.status,
    headers: { ...api.headers, "x-request-id": requestId },
  });
}
