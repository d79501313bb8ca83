/**
 * Provider agents at endpoints the workerd tests cannot run a process behind: the worker's own
 * `fetch` (same isolate) answers the gateway's endpoint-ownership challenge for these endpoints
 * as the real agent does — the gateway's Ed25519 signature checked first, then provider-runtime's
 * challenge responder signing with the agent's wallet. Every other request goes out unchanged.
 */
import { SELF } from "cloudflare:test";
import type { LocalAccount } from "viem/accounts";
import { vi } from "vitest";
import { createChallengeResponder } from "../../../provider-runtime/src/challenge";
import { CHALLENGE_PATH, normaliseEndpoint, type ChallengeRequest } from "../../../workers/core/protocol/endpoint-challenge";
import { importGatewayVerifyKey, ReplayGuard, verifyGatewayRequest } from "../../../workers/core/protocol/gateway-auth";
import { publicKeyOf } from "../../../workers/core/protocol/public-key";
import { signProviderMessage } from "../../../workers/core/protocol/provider-messages";
import { BASE, env } from "./gateway";

export interface StubAgent {
  /** The wallet the agent at this endpoint signs with (several: it answers for whichever the challenge names). */
  account: LocalAccount | LocalAccount[];
  /** A reply of its own instead of the agent's answer (a redirect, an error). */
  reply?: (challenge: ChallengeRequest) => Response | Promise<Response>;
  /** The agent's own public URL (what it compares the challenge's endpoint with); the endpoint itself by default. */
  publicUrl?: string;
}

export interface AgentStubs {
  /** Challenges the gateway sent, by endpoint (normalised). */
  challenges: { endpoint: string; body: Record<string, unknown>; authentic: boolean }[];
  restore(): void;
}

export async function stubAgents(agents: Record<string, StubAgent>): Promise<AgentStubs> {
  const byEndpoint = new Map(Object.entries(agents).map(([url, a]) => [normaliseEndpoint(url), { ...a, publicUrl: a.publicUrl ?? url }]));
  const key = await importGatewayVerifyKey(await publicKeyOf(env.GATEWAY_REQUEST_KEY));
  const replay = new ReplayGuard();
  const chainId = Number(env.CHAIN_ID ?? 31337);
  const original = globalThis.fetch;
  const challenges: AgentStubs["challenges"] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const agent = url.pathname.endsWith(CHALLENGE_PATH)
      ? byEndpoint.get(normaliseEndpoint(`${url.origin}${url.pathname.slice(0, -CHALLENGE_PATH.length)}`))
      : undefined;
    if (!agent) return original(input, init);
    const body = new Uint8Array(await req.arrayBuffer());
    const auth = await verifyGatewayRequest(
      key,
      { method: req.method, path: CHALLENGE_PATH, headers: (n) => req.headers.get(n), body },
      Date.now(),
      replay,
    );
    const endpoint = normaliseEndpoint(`${url.origin}${url.pathname.slice(0, -CHALLENGE_PATH.length)}`);
    const sent = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    challenges.push({ endpoint, body: sent, authentic: auth.ok });
    if (!auth.ok) return Response.json({ error: { message: `Gateway signature rejected (${auth.reason}).` } }, { status: 401 });
    if (agent.reply) return agent.reply(sent as ChallengeRequest);
    const named = String(sent.wallet ?? "").toLowerCase();
    const accounts = Array.isArray(agent.account) ? agent.account : [agent.account];
    const responder = createChallengeResponder({
      account: accounts.find((a) => a.address.toLowerCase() === named) ?? accounts[0]!,
      gateway: env.GATEWAY_ADDRESS as `0x${string}`,
      chainId,
      publicUrl: () => agent.publicUrl,
    });
    const answer = await responder.answer(body);
    return Response.json(answer.body, { status: answer.status });
  });
  return { challenges, restore: () => spy.mockRestore() };
}

/** POST /providers/v1/register signed by `wallet`, with an agent holding `wallet` answering the gateway's challenge at `payload.url`. */
export async function registerWithAgent(wallet: LocalAccount, payload: Record<string, unknown> & { url: string }): Promise<Response> {
  const agent = await stubAgents({ [payload.url]: { account: wallet } });
  try {
    const signature = await signProviderMessage(wallet, Number(env.CHAIN_ID ?? 31337), "register", payload as never);
    return await SELF.fetch(`${BASE}/providers/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payload, signature }),
    });
  } finally {
    agent.restore();
  }
}
