import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { answerChallenge, ChallengeRequest, judgeChallengeReply, newChallenge, normaliseEndpoint } from "./endpoint-challenge";

const CHAIN = 31337;
const GATEWAY = "0x00000000000000000000000000000000000000a1" as const;
const owner = privateKeyToAccount(generatePrivateKey());
const intruder = privateKeyToAccount(generatePrivateKey());
const ENDPOINT = "https://gpu-1.provider.example.com:8443";

const challengeFor = (wallet: `0x${string}`, endpoint = ENDPOINT) =>
  newChallenge({ endpoint, wallet, gateway: GATEWAY, chainId: CHAIN, nowMs: 1_750_000_000_000 });
const agent = (account = owner, endpoint = ENDPOINT) => ({ account, gateway: GATEWAY, chainId: CHAIN, endpoint });

describe("normaliseEndpoint", () => {
  it.each([
    ["HTTPS://GPU-1.Provider.Example.COM:8443/", ENDPOINT],
    ["https://gpu-1.provider.example.com:8443//", ENDPOINT],
    ["https://gpu-1.provider.example.com.:8443", ENDPOINT],
    ["https://gpu-1.provider.example.com:443/", "https://gpu-1.provider.example.com"],
    ["http://10.0.0.5:80", "http://10.0.0.5"],
    ["http://127.0.0.1:9101/#frag", "http://127.0.0.1:9101"],
    ["https://gpu.example.com/Prefix/", "https://gpu.example.com/Prefix"],
    ["http://0x7f000001:9101", "http://127.0.0.1:9101"],
  ])("%s → %s", (url, normal) => {
    expect(normaliseEndpoint(url)).toBe(normal);
  });

  it("keeps different ports and paths apart", () => {
    expect(normaliseEndpoint("https://a.example.com:8443")).not.toBe(normaliseEndpoint("https://a.example.com:8444"));
    expect(normaliseEndpoint("https://a.example.com/x")).not.toBe(normaliseEndpoint("https://a.example.com/y"));
  });
});

describe("the endpoint challenge", () => {
  it("is fresh each time and parses as the wire format", () => {
    const a = challengeFor(owner.address),
      b = challengeFor(owner.address);
    expect(a.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(a.nonce).not.toBe(b.nonce);
    expect(ChallengeRequest.parse(a)).toEqual(a);
  });

  it("signed by the agent holding the registering wallet, verifies", async () => {
    const c = challengeFor(owner.address);
    const answer = await answerChallenge(agent(), c);
    expect(answer.ok).toBe(true);
    expect(await judgeChallengeReply(c, { signature: answer.ok && answer.signature })).toEqual({ ok: true });
  });

  it("signed by another wallet (the endpoint's real owner answering a hijacker's challenge), is refused", async () => {
    const c = challengeFor(intruder.address);
    // An honest agent refuses to sign for a wallet it does not hold…
    expect(await answerChallenge(agent(owner), c)).toEqual({ ok: false, reason: "wrong_wallet" });
    // …and a signature by its own wallet does not recover to the registering one.
    const ownSigned = await answerChallenge(agent(owner), challengeFor(owner.address));
    expect(await judgeChallengeReply(c, { signature: ownSigned.ok && ownSigned.signature })).toMatchObject({
      ok: false,
      reason: "wrong_signer",
    });
  });

  it("is bound to its nonce, endpoint, gateway, chain and timestamp", async () => {
    const c = challengeFor(owner.address);
    const answer = await answerChallenge(agent(), c);
    const signature = answer.ok ? answer.signature : null;
    for (const other of [
      { ...c, nonce: "ab".repeat(16) },
      { ...c, endpoint: "https://other.example.com" },
      { ...c, gateway: "0x00000000000000000000000000000000000000b2" as const },
      { ...c, chain_id: 8453 },
      { ...c, timestamp: c.timestamp + 1 },
    ]) {
      expect(await judgeChallengeReply(other, { signature })).toMatchObject({ ok: false, reason: "wrong_signer" });
    }
  });

  it("an answer without a signature is malformed", async () => {
    const c = challengeFor(owner.address);
    for (const reply of [null, {}, { signature: "0x1234" }, "text"]) {
      expect(await judgeChallengeReply(c, reply)).toMatchObject({ ok: false, reason: "malformed_answer" });
    }
  });

  it("the agent signs only for its own gateway, chain and public URL (compared normalised)", async () => {
    const c = challengeFor(owner.address);
    expect(await answerChallenge({ ...agent(), gateway: "0x00000000000000000000000000000000000000b2" }, c)).toEqual({
      ok: false,
      reason: "wrong_gateway",
    });
    expect(await answerChallenge({ ...agent(), chainId: 8453 }, c)).toEqual({ ok: false, reason: "wrong_chain" });
    expect(await answerChallenge(agent(owner, "https://elsewhere.example.com"), c)).toEqual({ ok: false, reason: "wrong_endpoint" });
    expect((await answerChallenge(agent(owner, `${ENDPOINT.toUpperCase()}/`), c)).ok).toBe(true);
  });
});
