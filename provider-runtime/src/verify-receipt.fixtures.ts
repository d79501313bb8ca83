/**
 * A tiny gateway for the verify-receipt tests: four receipts signed into one period tree, served by
 * a local HTTP server that checks the wallet-signed GET as the real proof route does, and the batch
 * roots a Settlement contract would hold. `useProofGateway()` registers the hooks that build the tree,
 * start the server and, before each test, restore the honest answers and roots.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, stringToHex, zeroHash, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { SIGNED_GET_HEADERS, verifyProviderMessage } from "../../workers/core/protocol/provider-messages";
import { encodeSignedReceipt, receiptDigest, receiptDomain, signReceipt, type Receipt } from "../../workers/core/protocol/receipt";
import { periodTree } from "../../workers/core/settlement/merkle";
import type { RootReader } from "./verify-receipt";

export const CHAIN_ID = 31337;
export const key = generatePrivateKey();
export const me = privateKeyToAccount(key);
export const other = privateKeyToAccount(generatePrivateKey());
const GATEWAY = privateKeyToAccount(generatePrivateKey()).address;
const SETTLEMENT = "0x5E77000000000000000000000000000000000001";
export const BATCH_1 = keccak256(stringToHex("batch-1"));
export const BATCH_2 = keccak256(stringToHex("batch-2"));
export const OURS = "gen-ours";
export const ODD_ID = "gen/ä 1?x"; // travels percent-encoded in the path

export function receipt(requestId: string, provider: Hex = me.address, extra: Partial<Receipt> = {}): Receipt {
  return {
    requestId,
    model: "meshgate/sim-llama-8b",
    promptTokens: 10,
    completionTokens: 20,
    inputPrice: 150_000n,
    outputPrice: 600_000n,
    provider,
    gateway: GATEWAY,
    responseHash: keccak256(stringToHex(requestId)),
    timestamp: 1_700_000_000_000n,
    ...extra,
  };
}

/** A copy of a proof answer, to alter as a dishonest gateway would. */
export type ProofBody = {
  receipt: Record<string, unknown>;
  proof: Hex[];
  batches: Record<string, unknown>[];
  chain: Record<string, unknown>;
};

export interface ProofGateway {
  /** The gateway's answer for each request id; tests replace entries to make it lie. */
  answers: Map<string, { status: number; body: unknown }>;
  /** The root the contract holds for each batch id (zero for one never settled). */
  roots: Map<Hex, Hex>;
  readRoot: RootReader;
  proofOf: (id: string) => ProofBody;
  /** The period's Merkle root (set once the tree is built). */
  readonly root: Hex;
  /** The server's base URL (set once it listens). */
  readonly url: string;
}

/** The gateway for this file, with its hooks registered. */
export function useProofGateway(): ProofGateway {
  /** The honest answers: built like workers/http/routes/receipt-proof.ts does. */
  const proofs = new Map<string, Record<string, unknown>>();
  const answers = new Map<string, { status: number; body: unknown }>();
  const roots = new Map<Hex, Hex>();
  let root: Hex = zeroHash;
  let url = "";
  let server: Server | undefined;

  beforeAll(async () => {
    const signed = await Promise.all(
      [receipt(OURS), receipt(ODD_ID), receipt("gen-2"), receipt("gen-theirs", other.address)].map(async (r) => {
        const account = r.provider === me.address ? me : other;
        const signature = await signReceipt(account, receiptDomain(CHAIN_ID), r);
        return { r, signature, digest: receiptDigest(receiptDomain(CHAIN_ID), r) };
      }),
    );
    const tree = periodTree(signed.map((s) => s.digest));
    root = tree.root;
    for (const s of signed) {
      proofs.set(s.r.requestId, {
        request_id: s.r.requestId,
        ...(JSON.parse(encodeSignedReceipt(s.r, s.signature)) as object),
        leaf: s.digest,
        proof: tree.proof(s.digest),
        period: { id: 7, merkle_root: root, receipts: tree.size, cutoff: "2026-01-01T00:00:00.000Z", status: "open" },
        batches: [
          { batch_id: BATCH_1, part: 0, status: "settled", tx_hash: keccak256(stringToHex("tx-1")), block_number: "12" },
          { batch_id: BATCH_2, part: 1, status: "sending", tx_hash: keccak256(stringToHex("tx-2")), block_number: null },
        ],
        chain: { chain_id: CHAIN_ID, settlement: SETTLEMENT.toLowerCase() },
      });
    }
  });

  beforeEach(() => {
    answers.clear();
    for (const [id, body] of proofs) answers.set(id, { status: 200, body });
    roots.clear();
    roots.set(BATCH_1, root);
  });

  // Checks the wallet-signed GET exactly as the real route does, then answers from `answers`.
  async function answer(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const m = /^\/providers\/v1\/receipts\/([^/]+)\/proof$/.exec(req.url ?? "");
    if (req.method !== "GET" || !m) return { status: 404, body: { error: { message: "no route" } } };
    const requestId = decodeURIComponent(m[1]!);
    const address = req.headers[SIGNED_GET_HEADERS.address] as Hex;
    const timestamp = Number(req.headers[SIGNED_GET_HEADERS.timestamp]);
    const signature = req.headers[SIGNED_GET_HEADERS.signature] as Hex;
    if (
      Math.abs(Date.now() - timestamp) > 60_000 ||
      !(await verifyProviderMessage(CHAIN_ID, "proof", { address, timestamp, request_id: requestId } as never, signature))
    ) {
      return {
        status: 401,
        body: { error: { message: "Invalid signature.", type: "invalid_request_error", param: null, code: "invalid_signature" } },
      };
    }
    if (requestId === "gen-pending")
      return {
        status: 409,
        body: {
          error: {
            message: "The receipt is not in a closed settlement period yet.",
            type: "invalid_request_error",
            param: null,
            code: "conflict",
          },
        },
      };
    return (
      answers.get(requestId) ?? {
        status: 404,
        body: { error: { message: `Receipt '${requestId}' not found.`, type: "invalid_request_error", param: null, code: "not_found" } },
      }
    );
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      void answer(req).then(({ status, body }) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  const readRoot: RootReader = async (settlement, batchId) => {
    expect(settlement).toBe(SETTLEMENT);
    return roots.get(batchId) ?? zeroHash;
  };
  return {
    answers,
    roots,
    readRoot,
    proofOf: (id) => structuredClone(proofs.get(id)!) as ProofBody,
    get root() {
      return root;
    },
    get url() {
      return url;
    },
  };
}
