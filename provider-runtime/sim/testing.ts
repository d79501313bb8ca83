/** Small helpers for tests that drive a simulated engine over real HTTP (also usable by e2e tests). */

export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** Read a body to its end or its failure: a dropped stream keeps what arrived and reports the error. */
export async function readRaw(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: null };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

/** The `data:` payloads of an SSE body, in order (`[DONE]` and malformed lines included as text). */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

/** The value of the first sample of `name` whose labels contain `labelPart`; 0 when absent. */
export async function metricValue(metricsUrl: string, name: string, labelPart = ""): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labelPart));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}
