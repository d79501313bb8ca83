/**
 * A registration's endpoint ownership, before anything is stored: the endpoint must not be
 * another provider's, and the agent at it must sign a fresh challenge with the registering
 * wallet (core/protocol/endpoint-challenge.ts). Throws the OpenAI-style refusal; returns when proven.
 */
import type { Hex } from "viem";
import { errors } from "../../core/openai/errors";
import { judgeChallengeReply, newChallenge } from "../../core/protocol/endpoint-challenge";
import type { Deps } from "../../ports";

export interface EndpointClaim {
  id: string;
  wallet: Hex;
  /** Normalised. */
  endpoint: string;
}

export async function proveEndpoint(deps: Pick<Deps, "cfg" | "now" | "registry" | "challenger">, claim: EndpointClaim): Promise<void> {
  const { boundAddress, endpointHolder } = await deps.registry.claims(claim.id, claim.endpoint);
  // Refused without calling anyone: the gateway does not challenge an endpoint on behalf of a wallet that cannot win.
  if (boundAddress && boundAddress !== claim.wallet.toLowerCase()) {
    throw errors.forbidden(`Provider '${claim.id}' is registered to another wallet.`);
  }
  if (endpointHolder && endpointHolder.id !== claim.id) throw errors.endpointTaken(claim.endpoint);
  const challenge = newChallenge({
    endpoint: claim.endpoint,
    wallet: claim.wallet,
    gateway: deps.cfg.gatewayAddress,
    chainId: deps.cfg.chainId,
    nowMs: deps.now(),
  });
  const answer = await deps.challenger.send(claim.endpoint, challenge);
  if (!answer.ok) throw errors.endpointNotControlled(claim.endpoint, answer.detail);
  const verdict = await judgeChallengeReply(challenge, answer.body);
  if (!verdict.ok) throw errors.endpointNotControlled(claim.endpoint, verdict.detail);
}
