/**
 * Sends the endpoint-ownership challenge (core/protocol/endpoint-challenge.ts) to the agent a
 * registration names: one POST, signed with the gateway's request key, within a short deadline,
 * redirects never followed (a provider must not make the gateway fetch another address), the
 * answer read up to a small limit. Every failure is an answer of its own, never a throw.
 */
import { CHALLENGE_PATH, type ChallengeRequest } from "../core/protocol/endpoint-challenge";
import type { ChallengeAnswer, EndpointChallenger } from "../ports";
import type { RequestSigner } from "./upstream";

const MAX_ANSWER_BYTES = 4_096;

export function httpChallenger(fetcher: typeof fetch, sign: RequestSigner, deadlineMs: number): EndpointChallenger {
  return {
    async send(endpoint: string, challenge: ChallengeRequest): Promise<ChallengeAnswer> {
      const body = JSON.stringify(challenge);
      const requestId = `chl-${challenge.nonce.slice(0, 32)}`;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), deadlineMs);
      try {
        const auth = await sign({ method: "POST", path: CHALLENGE_PATH, requestId, body });
        const res = await fetcher(`${endpoint}${CHALLENGE_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...auth },
          body,
          signal: controller.signal,
          redirect: "manual",
        });
        if (res.status >= 300 && res.status < 400) {
          void res.body?.cancel().catch(() => undefined);
          return { ok: false, detail: `the endpoint answered with a redirect (${res.status}), not followed` };
        }
        const text = await readLimited(res);
        if (text === null) return { ok: false, detail: `the answer exceeds ${MAX_ANSWER_BYTES} bytes` };
        if (!res.ok) return { ok: false, detail: `the endpoint answered ${res.status}${errorMessage(text)}` };
        try {
          return { ok: true, body: JSON.parse(text) as unknown };
        } catch {
          return { ok: false, detail: "the answer is not JSON" };
        }
      } catch (err) {
        return {
          ok: false,
          detail: controller.signal.aborted
            ? `no answer within ${deadlineMs} ms`
            : `unreachable (${err instanceof Error ? err.message : String(err)})`,
        };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function readLimited(res: Response): Promise<string | null> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** `: <message>` from an OpenAI-style error body, if it has one. */
function errorMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof m === "string" ? `: ${m.slice(0, 200).replace(/\.+$/, "")}` : "";
  } catch {
    return "";
  }
}
