/**
 * Test helper (unit tests only): a tiny stand-in for the gateway's provider API. It serves
 * GET /providers/v1/gateway, records register / heartbeat / receipts posts with whether their
 * wallet signatures verify, challenges a registering endpoint as the gateway does (SPEC §5), and
 * signs requests to the agent the way the gateway does (SPEC §1).
 * The real gateway side lives in workers/ and is exercised by the e2e tests.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { generateGatewayKeyPair, importGatewaySigningKey, signGatewayRequest } from "../../workers/core/protocol/gateway-auth";
import { verifyProviderMessage, type ProviderMessageKind } from "../../workers/core/protocol/provider-messages";
import { decodeSignedReceipt } from "../../workers/core/protocol/receipt";
import { CHALLENGE_PATH, judgeChallengeReply, newChallenge, type ChallengeVerdict } from "../../workers/core/protocol/endpoint-challenge";

export interface Recorded<P = Record<string, unknown>> {
  payload: P;
  signature: `0x${string}`;
  /** The wallet signature verified against payload.address for this kind. */
  valid: boolean;
}

export interface FakeGatewayOptions {
  chainId?: number;
}

/** The `chain` object of GET /providers/v1/gateway (min_stake_base: USDC base units, decimal). */
export interface FakeGatewayChain {
  settlement: `0x${string}`;
  usdc: `0x${string}`;
  min_stake_base: string;
}

export class FakeGateway {
  readonly registers: Recorded[] = [];
  readonly heartbeats: Recorded[] = [];
  readonly receiptPosts: Recorded<{ address: `0x${string}`; timestamp: number; receipts: string[] }>[] = [];
  /** Every POST to /providers/v1/receipts, answered or not. */
  receiptAttempts = 0;
  /** Request ids acknowledged so far. */
  readonly acknowledged = new Set<string>();
  /** A status (and OpenAI error) to refuse registrations with; null accepts. */
  registerRefusal: { status: number; message: string } | null = null;
  /**
   * "ack" acknowledges every verifiable receipt; "missing" answers 404 as a gateway without the
   * endpoint; "reject" refuses each one in `rejected`, as the real gateway does a foreign receipt.
   */
  receiptsMode: "ack" | "missing" | "reject" = "ack";
  /** What GET /providers/v1/gateway advertises as `chain`; undefined leaves the key out, as older gateways do. */
  chain: FakeGatewayChain | null | undefined = undefined;
  /** The endpoint challenge of each registration (SPEC §5) and its verdict; a failed one refuses the registration (403). */
  readonly challenges: { endpoint: string; verdict: ChallengeVerdict }[] = [];
  /** Heartbeats are refused with 403 until the provider registers again (a registry reset). */
  forgotten = false;
  readonly account = privateKeyToAccount(generatePrivateKey());
  url = "";
  private signingKey!: CryptoKey;
  private publicKey = "";
  private readonly server = createServer((req, res) => {
    void this.handle(req).then(
      ({ status, body }) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });

  constructor(readonly opts: FakeGatewayOptions = {}) {}

  get chainId(): number {
    return this.opts.chainId ?? 31337;
  }

  async start(): Promise<this> {
    const pair = await generateGatewayKeyPair();
    this.publicKey = pair.publicKey;
    this.signingKey = await importGatewaySigningKey(pair.privateKey);
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The three x-meshgate-* headers the gateway would put on this request. */
  sign(path: string, body: string, requestId = `gen-${crypto.randomUUID()}`, timestampMs = Date.now()): Promise<Record<string, string>> {
    return signGatewayRequest(this.signingKey, { method: "POST", path, requestId, timestampMs, body });
  }

  /** POSTs `body` to the agent as the gateway would, signed. */
  async send(agentUrl: string, path: string, body: unknown, init: { requestId?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const text = JSON.stringify(body);
    const headers = await this.sign(path, text, init.requestId);
    return fetch(`${agentUrl}${path}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: text,
      ...(init.signal ? { signal: init.signal } : {}),
    });
  }

  /** The gateway's endpoint challenge: POST {endpoint}/meshgate/v1/challenge, signed, redirects not followed. */
  async challenge(endpoint: string, wallet: `0x${string}`): Promise<ChallengeVerdict> {
    const c = newChallenge({ endpoint, wallet, gateway: this.account.address, chainId: this.chainId, nowMs: Date.now() });
    const text = JSON.stringify(c);
    let verdict: ChallengeVerdict;
    try {
      const res = await fetch(`${endpoint}${CHALLENGE_PATH}`, {
        method: "POST",
        headers: { ...(await this.sign(CHALLENGE_PATH, text, `chl-${c.nonce}`)), "content-type": "application/json" },
        body: text,
        redirect: "manual",
        signal: AbortSignal.timeout(5_000),
      });
      const body: unknown = await res.json().catch(() => null);
      verdict = res.ok
        ? await judgeChallengeReply(c, body)
        : { ok: false, reason: "no_answer", detail: `the endpoint answered ${res.status}` };
    } catch (err) {
      verdict = { ok: false, reason: "no_answer", detail: String(err) };
    }
    this.challenges.push({ endpoint, verdict });
    return verdict;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const path = req.url ?? "/";
    if (req.method === "GET" && path === "/providers/v1/gateway") {
      return {
        status: 200,
        body: { address: this.account.address, request_key: this.publicKey, chain_id: this.chainId, chain: this.chain },
      };
    }
    const kinds: Record<string, ProviderMessageKind> = {
      "/providers/v1/register": "register",
      "/providers/v1/heartbeat": "heartbeat",
      "/providers/v1/receipts": "receipts",
    };
    const kind = req.method === "POST" ? kinds[path] : undefined;
    if (!kind)
      return { status: 404, body: { error: { message: "not found", type: "invalid_request_error", param: null, code: "not_found" } } };
    if (kind === "receipts") this.receiptAttempts++;
    if (kind === "receipts" && this.receiptsMode === "missing")
      return {
        status: 404,
        body: { error: { message: `No route for POST ${path}.`, type: "invalid_request_error", param: null, code: "not_found" } },
      };
    let text = "";
    for await (const chunk of req as AsyncIterable<Buffer>) text += chunk.toString("utf8");
    const { payload, signature } = JSON.parse(text) as {
      payload: Recorded["payload"] & { address: `0x${string}`; timestamp: number };
      signature: `0x${string}`;
    };
    const valid = await verifyProviderMessage(this.chainId, kind, payload, signature);
    if (kind === "register") {
      this.registers.push({ payload, signature, valid });
      this.forgotten = false;
      if (this.registerRefusal) {
        const { status, message } = this.registerRefusal;
        return { status, body: { error: { message, type: "invalid_request_error", param: null, code: "refused" } } };
      }
      if (!valid) return { status: 401, body: { ok: false } };
      const verdict = await this.challenge(String(payload.url), payload.address);
      if (!verdict.ok) {
        const message = `The registering wallet does not control the agent at ${String(payload.url)}: ${verdict.detail}.`;
        return {
          status: 403,
          body: { error: { message, type: "permission_error", param: "payload.url", code: "endpoint_not_controlled" } },
        };
      }
      return { status: 200, body: { ok: true } };
    }
    if (kind === "heartbeat") {
      this.heartbeats.push({ payload, signature, valid });
      if (this.forgotten)
        return {
          status: 403,
          body: {
            error: {
              message: "Provider is not registered to this wallet; register first.",
              type: "permission_error",
              param: null,
              code: "forbidden",
            },
          },
        };
      return { status: valid ? 200 : 401, body: { ok: valid } };
    }
    const batch = payload as unknown as { address: `0x${string}`; timestamp: number; receipts: string[] };
    this.receiptPosts.push({ payload: batch, signature, valid });
    if (!valid)
      return {
        status: 401,
        body: { error: { message: "bad signature", type: "invalid_request_error", param: null, code: "bad_signature" } },
      };
    const ids = batch.receipts.map((r) => decodeSignedReceipt(r)?.receipt.requestId).filter((id): id is string => id !== undefined);
    if (this.receiptsMode === "reject")
      return {
        status: 200,
        body: { accepted: [], rejected: ids.map((id) => ({ request_id: id, reason: "not addressed to this gateway" })) },
      };
    const accepted = ids;
    for (const id of accepted) this.acknowledged.add(id);
    return { status: 200, body: { accepted } };
  }
}

/** Polls until `check` returns a value (not undefined/false) or `timeoutMs` passes. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
