/** The agent answers the gateway's endpoint-ownership challenge (SPEC §5): only the gateway's, only for its own wallet and URL. */
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHALLENGE_PATH, judgeChallengeReply, newChallenge } from "../../workers/core/protocol/endpoint-challenge";
import { startAgent, type AgentHandle } from "./agent";
import { config, quiet, removeOutboxDirs } from "./agent.fixtures";
import { FakeGateway } from "./fake-gateway";

let gw: FakeGateway;
let agent: AgentHandle;

beforeAll(async () => {
  gw = await new FakeGateway().start();
  agent = await startAgent(config(gw, ["--provider-id", "unit-challenge"]), { log: quiet });
});
afterAll(async () => {
  await agent?.shutdown();
  await gw?.close();
  removeOutboxDirs();
});

const challengeFor = (over: { wallet?: `0x${string}`; endpoint?: string; gateway?: `0x${string}` } = {}) =>
  newChallenge({
    endpoint: over.endpoint ?? agent.url,
    wallet: over.wallet ?? agent.address,
    gateway: over.gateway ?? gw.account.address,
    chainId: gw.chainId,
    nowMs: Date.now(),
  });

describe("the endpoint challenge", () => {
  it("registration passed the gateway's challenge, signed by the agent's wallet", () => {
    expect(gw.challenges).toEqual([{ endpoint: agent.url, verdict: { ok: true } }]);
    expect(gw.registers.at(-1)?.valid).toBe(true);
  });

  it("a challenge for its wallet and URL is answered with a signature the gateway accepts", async () => {
    const c = challengeFor({ endpoint: `${agent.url.toUpperCase().replace("HTTP://", "http://")}/` });
    const res = await gw.send(agent.url, CHALLENGE_PATH, c);
    expect(res.status).toBe(200);
    expect(await judgeChallengeReply(c, await res.json())).toEqual({ ok: true });
  });

  it("refuses a challenge naming another wallet, gateway or endpoint (403)", async () => {
    const cases = [
      [challengeFor({ wallet: privateKeyToAccount(generatePrivateKey()).address }), "wrong_wallet"],
      [challengeFor({ gateway: "0x00000000000000000000000000000000000000b2" }), "wrong_gateway"],
      [challengeFor({ endpoint: "https://someone-else.example.com" }), "wrong_endpoint"],
    ] as const;
    for (const [c, code] of cases) {
      const res = await gw.send(agent.url, CHALLENGE_PATH, c);
      expect(res.status, code).toBe(403);
      expect(await res.json()).toMatchObject({ error: { type: "permission_error", code } });
    }
  });

  it("refuses a challenge without the gateway's signature (401) and a malformed one (400)", async () => {
    const unsigned = await fetch(`${agent.url}${CHALLENGE_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(challengeFor()),
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: { code: "invalid_gateway_signature" } });
    const malformed = await gw.send(agent.url, CHALLENGE_PATH, { nonce: "x" });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "invalid_challenge" } });
  });
});
