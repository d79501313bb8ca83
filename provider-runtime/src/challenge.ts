/**
 * The agent's answer to the gateway's endpoint-ownership challenge (SPEC §5): at registration the
 * gateway POSTs `/meshgate/v1/challenge` (signed like every gateway request, checked by the
 * server before this runs), and the agent signs it with its wallet, but only a challenge that names
 * this agent's wallet, gateway, chain and public URL. The signature is what lets the gateway route here.
 */
import type { Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { answerChallenge, ChallengeRequest } from "../../workers/core/protocol/endpoint-challenge";
import { openAiError, type OpenAiErrorBody } from "./errors";

export interface ChallengeResponder {
  answer(body: Uint8Array): Promise<{ status: number; body: { signature: Hex } | OpenAiErrorBody }>;
}

const REFUSALS = {
  wrong_wallet: "this agent does not hold the wallet the challenge names",
  wrong_gateway: "the challenge names another gateway",
  wrong_chain: "the challenge names another chain",
  wrong_endpoint: "the challenge names another endpoint than this agent's public URL",
} as const;

export function createChallengeResponder(own: {
  account: LocalAccount;
  gateway: Hex;
  chainId: number;
  publicUrl: () => string;
}): ChallengeResponder {
  return {
    async answer(body) {
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(body));
      } catch {
        return { status: 400, body: openAiError("The challenge is not JSON.", "invalid_request_error", "invalid_challenge") };
      }
      const parsed = ChallengeRequest.safeParse(json);
      if (!parsed.success) {
        return { status: 400, body: openAiError("The challenge is malformed.", "invalid_request_error", "invalid_challenge") };
      }
      const signed = await answerChallenge(
        { account: own.account, gateway: own.gateway, chainId: own.chainId, endpoint: own.publicUrl() },
        parsed.data,
      );
      if (!signed.ok) {
        return { status: 403, body: openAiError(`Challenge refused: ${REFUSALS[signed.reason]}.`, "permission_error", signed.reason) };
      }
      return { status: 200, body: { signature: signed.signature } };
    },
  };
}
