/**
 * A provider checks that a receipt it signed was paid for: the gateway's proof
 * (GET /providers/v1/receipts/{id}/proof, signed by our wallet) must hold our signature over the
 * receipt, a leaf that is that receipt's digest, a Merkle path from the leaf to the period's root,
 * and that root must be the one the Settlement contract stores for a settled batch of the period —
 * read from our own RPC, so nothing but the chain is taken on the gateway's word.
 */
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { signProviderMessage, SIGNED_GET_HEADERS } from "../../workers/core/protocol/provider-messages";
import {
  receiptDigest,
  receiptDomain,
  SignedReceiptWire,
  verifyReceipt as verifyReceiptSignature,
  type Receipt,
} from "../../workers/core/protocol/receipt";
import { verifyProof } from "../../workers/core/settlement/merkle";
import { readGatewayJson } from "./gateway-client";
import { assertChainId, l2PublicClient, settlementAbi } from "./l2";

const Bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "expected 32 bytes of 0x-hex")
  .transform((s) => s.toLowerCase() as Hex);

/** The gateway's answer (workers/http/routes/receipt-proof.ts); statuses stay strings so a new one is not a parse error. */
export const ReceiptProof = z.object({
  request_id: z.string(),
  receipt: SignedReceiptWire.shape.receipt,
  signature: SignedReceiptWire.shape.signature,
  /** Absent from gateways older than batch signing; null for a receipt signed alone. */
  receipt_batch: SignedReceiptWire.shape.batch.nullable(),
  leaf: Bytes32,
  proof: z.array(Bytes32),
  period: z.object({
    id: z.union([z.number(), z.string()]),
    merkle_root: Bytes32,
    receipts: z.number(),
    cutoff: z.string(),
    status: z.string(),
  }),
  batches: z.array(
    z.object({ batch_id: Bytes32, part: z.number(), status: z.string(), tx_hash: Bytes32.nullable(), block_number: z.string().nullable() }),
  ),
  chain: z.object({ chain_id: z.number(), settlement: z.string().nullable() }),
});
export type ReceiptProof = z.output<typeof ReceiptProof>;

export interface VerifyReceiptResult {
  ok: boolean;
  checks: { signature: boolean; leaf: boolean; proof: boolean; onChainRoot: boolean };
  requestId: string;
  /** The settled batch whose on-chain root matched, and its transaction (null if none matched). */
  batchId: Hex | null;
  txHash: Hex | null;
  /** The period's Merkle root as the gateway reports it. */
  root: Hex | null;
  /** Why each failed check failed, one line each; empty when ok. */
  problems: string[];
}

/** Reads `batchRoots(batchId)` from the Settlement contract at `settlement`. */
export type RootReader = (settlement: Address, batchId: Hex) => Promise<Hex>;

export interface CheckOptions {
  requestId: string;
  address: Address;
  chainId: number;
  /** The receipt as we signed it (from our own records): the leaf must be its digest too. */
  expectReceipt?: Receipt;
  /** Pins the contract; by default the one the gateway names in `chain.settlement`. */
  settlement?: Address;
  readRoot: RootReader;
}

export interface VerifyReceiptOptions extends Omit<CheckOptions, "address" | "readRoot"> {
  gatewayUrl: string;
  account: LocalAccount;
  rpcUrl: string;
  requestId: string;
  /** Tests inject one; by default `batchRoots` is read over `rpcUrl`. */
  readRoot?: RootReader;
}

export async function verifyReceipt(o: VerifyReceiptOptions): Promise<VerifyReceiptResult> {
  const proof = await fetchReceiptProof(o.gatewayUrl, o.account, o.chainId, o.requestId);
  return checkReceiptProof(proof, { ...o, address: o.account.address, readRoot: o.readRoot ?? chainRootReader(o.rpcUrl, o.chainId) });
}

/** The signed GET; a non-2xx answer throws GatewayReply (404: no such receipt of ours, 409: not in a closed period yet). */
export async function fetchReceiptProof(
  gatewayUrl: string,
  account: LocalAccount,
  chainId: number,
  requestId: string,
): Promise<ReceiptProof> {
  const timestamp = Date.now();
  // The whole payload is hashed (request_id too), though only address and timestamp are typed.
  const payload = { address: account.address, timestamp, request_id: requestId };
  const signature = await signProviderMessage(account, chainId, "proof", payload);
  const res = await fetch(`${gatewayUrl}/providers/v1/receipts/${encodeURIComponent(requestId)}/proof`, {
    headers: {
      [SIGNED_GET_HEADERS.address]: account.address,
      [SIGNED_GET_HEADERS.timestamp]: String(timestamp),
      [SIGNED_GET_HEADERS.signature]: signature,
    },
    signal: AbortSignal.timeout(10_000),
  });
  return readGatewayJson(res, `GET /providers/v1/receipts/${requestId}/proof`, ReceiptProof);
}

/** The four checks; each is independent, so a result names every problem, not just the first. */
export async function checkReceiptProof(p: ReceiptProof, o: CheckOptions): Promise<VerifyReceiptResult> {
  const problems: string[] = [];
  const domain = receiptDomain(o.chainId);
  const receipt: Receipt = p.receipt;

  const ours = isAddressEqual(receipt.provider, o.address);
  const signature =
    ours && (await verifyReceiptSignature(domain, receipt, p.signature, o.address, { batch: p.receipt_batch ?? undefined }));
  if (!ours) problems.push(`the receipt names provider ${receipt.provider}, not ${o.address}`);
  else if (!signature) problems.push(`the receipt's signature does not recover to ${o.address} on chain ${o.chainId}`);

  const digest = safeDigest(receipt, o.chainId);
  const expected = o.expectReceipt ? safeDigest(o.expectReceipt, o.chainId) : digest;
  const sameRequest = receipt.requestId === o.requestId;
  const leaf = sameRequest && digest !== null && digest === p.leaf && expected === digest;
  if (!sameRequest) problems.push(`the gateway answered with the receipt of request ${JSON.stringify(receipt.requestId)}`);
  else if (digest !== p.leaf) problems.push(`the leaf ${p.leaf} is not the receipt's digest ${digest ?? "(unencodable receipt)"}`);
  else if (expected !== digest)
    problems.push(`the gateway's receipt differs from ours (digest ${digest}, ours ${expected ?? "(unencodable)"})`);

  // From the digest we computed, not the leaf we were given: the path must start at our receipt.
  const proof = digest !== null && safeVerifyProof(p.period.merkle_root, digest, p.proof);
  if (!proof) problems.push(`the Merkle proof does not lead from the receipt to the period root ${p.period.merkle_root}`);

  const onChain = await checkOnChainRoot(p, o, problems);
  const checks = { signature, leaf, proof, onChainRoot: onChain !== null };
  return {
    ok: Object.values(checks).every(Boolean),
    checks,
    requestId: o.requestId,
    batchId: onChain?.batch_id ?? null,
    txHash: onChain?.tx_hash ?? null,
    root: p.period.merkle_root,
    problems,
  };
}

/** The first settled batch of the period whose on-chain root is the period's root. */
async function checkOnChainRoot(p: ReceiptProof, o: CheckOptions, problems: string[]): Promise<ReceiptProof["batches"][number] | null> {
  const settlement = o.settlement ?? (p.chain.settlement ? getAddress(p.chain.settlement) : null);
  if (!settlement) {
    problems.push("the gateway names no Settlement contract");
    return null;
  }
  const settled = p.batches.filter((b) => b.status === "settled");
  if (settled.length === 0) {
    problems.push(`no batch of period ${p.period.id} is settled yet`);
    return null;
  }
  const seen: string[] = [];
  for (const b of settled) {
    const root = (await o.readRoot(settlement, b.batch_id)).toLowerCase();
    if (root === p.period.merkle_root) return b;
    seen.push(`${b.batch_id} → ${root}`);
  }
  problems.push(`Settlement ${settlement} does not hold root ${p.period.merkle_root} for any settled batch (${seen.join(", ")})`);
  return null;
}

/** `batchRoots` over the provider's own RPC, after checking that the node is on the expected chain. */
export function chainRootReader(rpcUrl: string, chainId: number): RootReader {
  const client = l2PublicClient(chainId, rpcUrl);
  let checked: Promise<void> | undefined;
  return async (settlement, batchId) => {
    await (checked ??= assertChainId(client, chainId, rpcUrl));
    return client.readContract({ address: settlement, abi: settlementAbi, functionName: "batchRoots", args: [batchId] });
  };
}

function safeDigest(r: Receipt, chainId: number): Hex | null {
  try {
    return receiptDigest(receiptDomain(chainId), r).toLowerCase() as Hex;
  } catch {
    return null; // a field out of its EIP-712 range
  }
}

function safeVerifyProof(root: Hex, digest: Hex, proof: Hex[]): boolean {
  try {
    return verifyProof(root, digest, proof);
  } catch {
    return false;
  }
}
