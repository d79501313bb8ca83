/** A minimal client for the gateway's admin API, as the local network drives it while it starts. */
export type Admin = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

export function adminClient(base: string, token: string): Admin {
  return async (method, p, body) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
}
