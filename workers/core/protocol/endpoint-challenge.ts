/**
 * Endpoint ownership: before a self-registered provider is stored (and so routable), the gateway
 * POSTs a challenge to the endpoint it names (`CHALLENGE_PATH`, signed with the gateway's request
 * key like every gateway → provider request), and the agent there answers with its wallet's
 * EIP-712 signature over `{ address: wallet, timestamp, endpoint, nonce, gateway }` as a provider
 * message of kind "endpoint" (provider-messages.ts). The gateway accepts only a signature that
 * recovers to the registering wallet over exactly the challenge it sent.
 *
 * Endpoints are compared normalised (`normaliseEndpoint`): one endpoint has one owner.
 */
import { isAddress, isAddressEqual, type Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { Address, Signature } from "../wire";
import { signProviderMessage, verifyProviderMessage } from "./provider-messages";

export const CHALLENGE_PATH = "/meshgate/v1/challenge";
/** How long the gateway waits for the agent's answer. */
export const CHALLENGE_DEADLINE_MS = 5_000;

/**
 * The one spelling of an endpoint: scheme and host lower-cased (the URL parser does both), a
 * host's trailing dots and the scheme's default port dropped, no trailing slash, no fragment.
 * Throws on a string that is not a URL.
 */
export function normaliseEndpoint(url: string): string {
  const u = new URL(url);
  const host = u.hostname.replace(/\.+$/, "");
  const port = u.port === "" ? "" : `:${u.port}`;
  return `${u.protocol}//${host}${port}${u.pathname.replace(/\/+$/, "")}${u.search}`;
}

/** The body of the gateway's challenge; the agent signs it (less `chain_id`) as the payload. */
export const ChallengeRequest = z.object({
  endpoint: z.string().min(1).max(2_048),
  nonce: z.string().regex(/^[0-9a-f]{32,128}$/),
  gateway: Address,
  wallet: Address,
  timestamp: z.number().int().nonnegative(),
  chain_id: z.number().int().positive(),
});
export type ChallengeRequest = z.infer<typeof ChallengeRequest>;

export const ChallengeReply = z.object({ signature: Signature });

/** A fresh challenge for one registration: a 128-bit random nonce, the gateway's clock as the timestamp. */
export function newChallenge(c: { endpoint: string; wallet: Hex; gateway: Hex; chainId: number; nowMs: number }): ChallengeRequest {
  const nonce = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  return { endpoint: c.endpoint, nonce, gateway: c.gateway, wallet: c.wallet, timestamp: c.nowMs, chain_id: c.chainId };
}

export interface ChallengePayload {
  address: Hex;
  timestamp: number;
  endpoint: string;
  nonce: string;
  gateway: Hex;
}

/** What the wallet signs: the challenge bound to its endpoint, nonce, gateway and wallet. */
export function challengePayload(c: Omit<ChallengeRequest, "chain_id">): ChallengePayload {
  return {
    address: c.wallet as Hex,
    timestamp: c.timestamp,
    endpoint: c.endpoint,
    nonce: c.nonce,
    gateway: c.gateway as Hex,
  };
}

export type ChallengeVerdict = { ok: true } | { ok: false; reason: "no_answer" | "malformed_answer" | "wrong_signer"; detail: string };

/** The gateway's judgement of the agent's answer (`reply`: its parsed JSON body, or null if none came). */
export async function judgeChallengeReply(req: ChallengeRequest, reply: unknown): Promise<ChallengeVerdict> {
  const parsed = ChallengeReply.safeParse(reply);
  if (!parsed.success) return { ok: false, reason: "malformed_answer", detail: "the answer carries no signature" };
  const payload = challengePayload(req);
  if (!(await verifyProviderMessage(req.chain_id, "endpoint", payload, parsed.data.signature))) {
    return { ok: false, reason: "wrong_signer", detail: `the signature is not by ${req.wallet} over this challenge` };
  }
  return { ok: true };
}

export type ChallengeRefusal = "wrong_wallet" | "wrong_gateway" | "wrong_chain" | "wrong_endpoint";

/**
 * The agent's side: signs a challenge only if it names this agent's wallet, gateway, chain and
 * public endpoint; anything else is refused (a challenge for another wallet is not ours to answer).
 */
export async function answerChallenge(
  own: { account: LocalAccount; gateway: Hex; chainId: number; endpoint: string },
  req: ChallengeRequest,
): Promise<{ ok: true; signature: Hex } | { ok: false; reason: ChallengeRefusal }> {
  if (!isAddress(req.wallet) || !isAddressEqual(req.wallet, own.account.address)) return { ok: false, reason: "wrong_wallet" };
  if (!isAddress(req.gateway) || !isAddressEqual(req.gateway, own.gateway)) return { ok: false, reason: "wrong_gateway" };
  if (req.chain_id !== own.chainId) return { ok: false, reason: "wrong_chain" };
  if (!sameEndpoint(req.endpoint, own.endpoint)) return { ok: false, reason: "wrong_endpoint" };
  const signature = await signProviderMessage(own.account, own.chainId, "endpoint", challengePayload(req));
  return { ok: true, signature };
}

function sameEndpoint(a: string, b: string): boolean {
  try {
    return normaliseEndpoint(a) === normaliseEndpoint(b);
  } catch {
    return false;
  }
}
