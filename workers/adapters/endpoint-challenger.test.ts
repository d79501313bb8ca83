import { describe, expect, it } from "vitest";
import { CHALLENGE_PATH, newChallenge } from "../core/protocol/endpoint-challenge";
import { httpChallenger } from "./endpoint-challenger";

const ENDPOINT = "https://gpu.provider.example.com";
const challenge = newChallenge({
  endpoint: ENDPOINT,
  wallet: "0x00000000000000000000000000000000000000c3",
  gateway: "0x00000000000000000000000000000000000000a1",
  chainId: 31337,
  nowMs: 1_750_000_000_000,
});
const sign = async () => ({ "x-meshgate-signature": "sig" });

function fetcher(reply: (init: RequestInit) => Promise<Response>) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return reply(init);
  }) as unknown as typeof fetch;
  return { f, calls };
}

describe("httpChallenger", () => {
  it("POSTs the challenge, signed, to the endpoint's challenge path, and returns the JSON answer", async () => {
    const { f, calls } = fetcher(async () => Response.json({ signature: "0xabc" }));
    expect(await httpChallenger(f, sign, 1_000).send(ENDPOINT, challenge)).toEqual({ ok: true, body: { signature: "0xabc" } });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe(`${ENDPOINT}${CHALLENGE_PATH}`);
    expect(calls[0]!.init).toMatchObject({ method: "POST", redirect: "manual", body: JSON.stringify(challenge) });
    expect(calls[0]!.init.headers).toMatchObject({ "x-meshgate-signature": "sig" });
  });

  it("never follows a redirect", async () => {
    const { f, calls } = fetcher(async () => new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } }));
    const answer = await httpChallenger(f, sign, 1_000).send(ENDPOINT, challenge);
    expect(answer).toMatchObject({ ok: false, detail: expect.stringContaining("redirect (302)") });
    expect(calls).toHaveLength(1);
  });

  it("gives up at its deadline", async () => {
    const { f } = fetcher((init) => new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(new Error("aborted")))));
    expect(await httpChallenger(f, sign, 20).send(ENDPOINT, challenge)).toEqual({ ok: false, detail: "no answer within 20 ms" });
  });

  it("reports an error status with its message, a huge answer, a non-JSON answer and a connection failure", async () => {
    const cases: [() => Promise<Response>, string][] = [
      [
        async () => Response.json({ error: { message: "Challenge refused: wrong wallet." } }, { status: 403 }),
        "answered 403: Challenge refused: wrong wallet",
      ],
      [async () => new Response("x".repeat(10_000)), "exceeds 4096 bytes"],
      [async () => new Response("not json"), "not JSON"],
      [async () => Promise.reject(new Error("ECONNREFUSED")), "unreachable (ECONNREFUSED)"],
    ];
    for (const [reply, detail] of cases) {
      const { f } = fetcher(reply);
      expect(await httpChallenger(f, sign, 1_000).send(ENDPOINT, challenge)).toMatchObject({
        ok: false,
        detail: expect.stringContaining(detail),
      });
    }
  });
});
