/** The Upstream adapter's client signal: the provider's request is aborted when the client leaves. */
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../core/openai/errors";
import type { ProviderOffer } from "../core/routing/types";
import { httpUpstream } from "./upstream";

const offer = { providerId: "p", url: "http://p" } as ProviderOffer;
const request = (signal: AbortSignal) => ({
  offer,
  path: "/v1/chat/completions" as const,
  body: "{}",
  stream: true,
  requestId: "r",
  deadlineMs: 60_000,
  signal,
});

/** A provider that never answers: the fetch settles only when its signal aborts (at once if it already had, as fetch does). */
function stalled() {
  const seen: AbortSignal[] = [];
  const fetcher = ((_url: string, init: RequestInit) => {
    seen.push(init.signal!);
    return new Promise((_, reject) => {
      if (init.signal!.aborted) reject(new Error("aborted"));
      init.signal!.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
    });
  }) as unknown as typeof fetch;
  return {
    upstream: httpUpstream(
      fetcher,
      () => 0,
      async () => ({}),
    ),
    seen,
  };
}

describe("httpUpstream and the client's signal", () => {
  it("aborts the provider's request as soon as the client leaves", async () => {
    const { upstream, seen } = stalled();
    const client = new AbortController();
    const pending = upstream.send(request(client.signal));
    await new Promise((r) => setTimeout(r, 5));
    expect(seen[0]?.aborted).toBe(false);
    client.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).message).toBe("aborted: the client left");
    expect(seen[0]?.aborted).toBe(true);
  });

  it("does not wait on the provider when the client already left", async () => {
    const { upstream, seen } = stalled();
    const client = new AbortController();
    client.abort();
    await expect(upstream.send(request(client.signal))).rejects.toThrow("aborted: the client left");
    expect(seen.every((s) => s.aborted)).toBe(true);
  });
});
