/**
 * The agent's calls to the gateway's provider API: its identity (GET /providers/v1/gateway) and
 * wallet-signed messages (`{ payload, signature }` POSTs to register, heartbeat and receipts).
 */
import { getAddress, isAddress, type Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { signProviderMessage, type Keccak256, type ProviderMessageKind } from "../../workers/core/protocol/provider-messages";

const Address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "expected an address")
  .transform((s) => getAddress(s));

export const GatewayIdentity = z.object({
  address: Address,
  request_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "expected a base64url Ed25519 public key"),
  chain_id: z.number().int().positive(),
  /** Where providers stake, and how much (USDC base units). Null without a chain; absent from older gateways. */
  chain: z
    .object({
      settlement: Address,
      usdc: Address,
      min_stake_base: z
        .string()
        .regex(/^\d{1,78}$/, "expected a decimal integer")
        .transform((s) => BigInt(s)),
    })
    .nullable()
    .optional(),
});
export type GatewayIdentity = z.output<typeof GatewayIdentity>;

const TIMEOUT_MS = 10_000;

/** The gateway's address (receipts name it) and the key that signs the requests it sends us. */
export async function fetchGatewayIdentity(gatewayUrl: string, signal: AbortSignal): Promise<GatewayIdentity> {
  const res = await fetch(`${gatewayUrl}/providers/v1/gateway`, { signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) });
  return readGatewayJson(res, "GET /providers/v1/gateway", GatewayIdentity);
}

/** A gateway answer as `schema` describes it: a non-2xx is a GatewayReply, a body that is not it says what is wrong. */
export async function readGatewayJson<S extends z.ZodType>(res: Response, what: string, schema: S): Promise<z.output<S>> {
  const text = await res.text();
  if (!res.ok) throw new GatewayReply(res.status, text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${what} answered ${res.status} with a body that is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`${what}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** A non-2xx answer, with the OpenAI error message when the body has one. */
export class GatewayReply extends Error {
  readonly json: unknown;
  constructor(
    readonly status: number,
    readonly text: string,
  ) {
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the status says it all
    }
    const message = openAiErrorMessage(json);
    super(`gateway answered ${status}${message ? `: ${message}` : text ? `: ${text.slice(0, 200)}` : ""}`);
    this.json = json;
  }

  /** The OpenAI error's `param`, if any. */
  get param(): string | null {
    const param = (this.json as { error?: { param?: unknown } } | null)?.error?.param;
    return typeof param === "string" ? param : null;
  }

  /** OpenAI-shaped `{ error: { message } }`: the gateway's own considered refusal, not a proxy's page. */
  get isOpenAiError(): boolean {
    return openAiErrorMessage(this.json) !== null;
  }
}

function openAiErrorMessage(json: unknown): string | null {
  const error = (json as { error?: { message?: unknown } } | null)?.error;
  return typeof error?.message === "string" ? error.message : null;
}

export interface SignedPost {
  gatewayUrl: string;
  account: LocalAccount;
  chainId: number;
  signal?: AbortSignal;
  /** Hashes the payload for its signature (keccak.ts); viem's keccak by default. */
  keccak?: Keccak256;
}

/** POSTs `{ payload, signature }`; resolves with the parsed 2xx body, throws GatewayReply otherwise. */
export async function postSigned<P extends { address: Hex; timestamp: number }>(
  s: SignedPost,
  path: string,
  kind: ProviderMessageKind,
  payload: P,
): Promise<unknown> {
  const signature = await signProviderMessage(s.account, s.chainId, kind, payload, s.keccak);
  const res = await fetch(`${s.gatewayUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload, signature }),
    signal: s.signal ? AbortSignal.any([s.signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new GatewayReply(res.status, text);
  try {
    return text === "" ? null : (JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}

/** Exponential backoff with jitter: 250 ms doubling to `maxMs`. */
export function backoffMs(attempt: number, maxMs = 10_000): number {
  const base = Math.min(maxMs, 250 * 2 ** Math.min(attempt, 16));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
