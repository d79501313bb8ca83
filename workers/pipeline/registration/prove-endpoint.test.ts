import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { answerChallenge, type ChallengeRequest } from "../../core/protocol/endpoint-challenge";
import type { ChallengeAnswer, Deps } from "../../ports";
import { proveEndpoint } from "./prove-endpoint";

const GATEWAY = "0x00000000000000000000000000000000000000a1" as const;
const ENDPOINT = "https://gpu.provider.example.com";
const owner = privateKeyToAccount(generatePrivateKey());

function deps(claims: Awaited<ReturnType<Deps["registry"]["claims"]>>, answer: (c: ChallengeRequest) => Promise<ChallengeAnswer>) {
  const sent: ChallengeRequest[] = [];
  const d = {
    cfg: { gatewayAddress: GATEWAY, chainId: 31337 },
    now: () => 1_750_000_000_000,
    registry: { claims: async () => claims },
    challenger: {
      send: async (_endpoint: string, c: ChallengeRequest) => {
        sent.push(c);
        return answer(c);
      },
    },
  } as unknown as Pick<Deps, "cfg" | "now" | "registry" | "challenger">;
  return { d, sent };
}

const agentOf =
  (account = owner) =>
  async (c: ChallengeRequest): Promise<ChallengeAnswer> => {
    const a = await answerChallenge({ account, gateway: GATEWAY, chainId: 31337, endpoint: ENDPOINT }, c);
    return a.ok ? { ok: true, body: { signature: a.signature } } : { ok: false, detail: a.reason };
  };

describe("proveEndpoint", () => {
  it("passes when the agent at the endpoint signs for the registering wallet", async () => {
    const { d, sent } = deps({ endpointHolder: null }, agentOf());
    await expect(proveEndpoint(d, { id: "p-1", wallet: owner.address, endpoint: ENDPOINT })).resolves.toBeUndefined();
    expect(sent).toMatchObject([{ endpoint: ENDPOINT, wallet: owner.address, gateway: GATEWAY, chain_id: 31337 }]);
  });

  it("refuses another provider's endpoint (409) and an id bound to another wallet (403) without challenging anyone", async () => {
    const taken = deps({ endpointHolder: { id: "p-owner", address: owner.address.toLowerCase() } }, agentOf());
    await expect(proveEndpoint(taken.d, { id: "p-2", wallet: owner.address, endpoint: ENDPOINT })).rejects.toMatchObject({
      status: 409,
      code: "endpoint_taken",
    });
    const bound = deps({ boundAddress: "0x00000000000000000000000000000000000000ff", endpointHolder: null }, agentOf());
    await expect(proveEndpoint(bound.d, { id: "p-2", wallet: owner.address, endpoint: ENDPOINT })).rejects.toMatchObject({
      status: 403,
      code: "forbidden",
    });
    expect([...taken.sent, ...bound.sent]).toEqual([]);
  });

  it("refuses (403 endpoint_not_controlled) an agent holding another wallet, a bad signature, or no answer", async () => {
    const someone = privateKeyToAccount(generatePrivateKey());
    for (const answer of [
      agentOf(someone),
      async () => ({ ok: true, body: { signature: `0x${"11".repeat(65)}` } }) as ChallengeAnswer,
      async () => ({ ok: false, detail: "no answer within 5000 ms" }) as ChallengeAnswer,
    ]) {
      const { d } = deps({ endpointHolder: null }, answer);
      await expect(proveEndpoint(d, { id: "p-3", wallet: owner.address, endpoint: ENDPOINT })).rejects.toMatchObject({
        status: 403,
        code: "endpoint_not_controlled",
      });
    }
  });
});
