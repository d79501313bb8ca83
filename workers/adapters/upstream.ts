/**
 * The one place the gateway talks to a provider runtime over HTTP. Deadlines are enforced
 * here and every failure becomes core's UpstreamError, whose phase tells the pipeline whether
 * another provider may still be tried. A reply is returned only once its first byte arrived
 * (streams) or its whole body did (JSON), so nothing reaches the client before that.
 * Redirects are never followed: the request carries the gateway's signature, and a provider must
 * not make the gateway fetch another address (a metadata service, a loopback admin port) for it.
 */
import { UpstreamError } from "../core/openai/errors";
import type { Upstream } from "../ports";

export type { UpstreamPath, UpstreamReply, UpstreamRequest } from "../ports";

/** Signs a request for the provider (the gateway-auth headers). */
export type RequestSigner = (req: { method: string; path: string; requestId: string; body: string }) => Promise<Record<string, string>>;

export function httpUpstream(fetcher: typeof fetch, now: () => number, sign: RequestSigner): Upstream {
  return {
    async send(req) {
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, req.deadlineMs);
      // The client left: the provider's request goes with it (and none is sent if it already left).
      const clientLeft = () => controller.abort();
      if (req.signal?.aborted) controller.abort();
      else req.signal?.addEventListener("abort", clientLeft, { once: true });
      const id = req.offer.providerId;
      const sentAtMs = now();
      const fail = (phase: "connect" | "first_byte", err: unknown) =>
        timedOut
          ? new UpstreamError(id, "first_byte", null, `no response within ${req.deadlineMs} ms`)
          : req.signal?.aborted
            ? new UpstreamError(id, phase, null, "aborted: the client left")
            : new UpstreamError(id, phase, null, `${phase === "connect" ? "connection failed" : "response cut"}: ${errorText(err)}`);
      try {
        const auth = await sign({ method: "POST", path: req.path, requestId: req.requestId, body: req.body });
        let res: Response;
        try {
          res = await fetcher(`${req.offer.url}${req.path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...auth },
            body: req.body,
            signal: controller.signal,
            redirect: "manual",
          });
        } catch (err) {
          throw fail("connect", err);
        }
        if (isRedirect(res)) throw redirectError(id, res);
        if (!res.ok) throw await statusError(id, res);
        if (!req.stream) {
          let text: string;
          try {
            text = await res.text();
          } catch (err) {
            throw fail("first_byte", err);
          }
          const body = parseObject(text);
          if (!body) throw new UpstreamError(id, "first_byte", null, "malformed JSON response");
          return { kind: "json", body, text, headers: res.headers, sentAtMs, firstByteAtMs: now() };
        }
        if (!res.body) throw new UpstreamError(id, "first_byte", null, "empty stream");
        const reader = res.body.getReader();
        let first: ReadableStreamReadResult<Uint8Array>;
        try {
          first = await reader.read();
        } catch (err) {
          throw fail("first_byte", err);
        }
        if (first.done || !first.value) throw new UpstreamError(id, "first_byte", null, "stream closed before the first byte");
        return {
          kind: "stream",
          headers: res.headers,
          first: first.value,
          reader,
          sentAtMs,
          firstByteAtMs: now(),
          abort: () => controller.abort(),
        };
      } catch (err) {
        controller.abort();
        throw err;
      } finally {
        clearTimeout(timer);
        // A stream handed on is stopped by the relay from here (it owns the client's abort).
        req.signal?.removeEventListener("abort", clientLeft);
      }
    },
  };
}

async function statusError(providerId: string, res: Response): Promise<UpstreamError> {
  const text = await res.text().catch(() => "");
  const parsed = parseObject(text);
  const raw = parsed?.error ?? parsed;
  const detail = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : null;
  const message = typeof detail?.message === "string" ? detail.message : text.slice(0, 300) || res.statusText;
  const body = {
    message,
    type: typeof detail?.type === "string" ? detail.type : undefined,
    code: typeof detail?.code === "string" ? detail.code : null,
    param: typeof detail?.param === "string" ? detail.param : null,
  };
  return new UpstreamError(
    providerId,
    "headers",
    res.status,
    `provider answered ${res.status}: ${message}`,
    body,
    retryAfterMs(res.headers),
  );
}

/** A redirect, never followed: with `redirect: "manual"` workerd (and Node) return the 3xx itself. */
const isRedirect = (res: Response) => res.status >= 300 && res.status < 400;

/** A provider that redirects misbehaves: a failure of its own, reported with where it pointed; its body is never read. */
function redirectError(providerId: string, res: Response): UpstreamError {
  void res.body?.cancel().catch(() => undefined);
  const location = (res.headers.get("location") ?? "").slice(0, 200) || "no location";
  return new UpstreamError(providerId, "headers", res.status, `provider tried to redirect (${res.status} to ${location}); not followed`);
}

function retryAfterMs(headers: Headers): number | null {
  const ms = Number(headers.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const s = Number(headers.get("retry-after"));
  return Number.isFinite(s) && s >= 0 && headers.has("retry-after") ? s * 1000 : null;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
