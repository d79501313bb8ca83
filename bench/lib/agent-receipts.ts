/**
 * The agent bench's receipt microbench, on the one core this process is pinned to: the signing
 * path as the agent runs it (createReceiptSigner with the wallet key: the EIP-712 digest encoded
 * for the one struct, receipts asked for in the same event-loop turn signed under one batch root,
 * the wire form, the outbox append with its group-commit fsync, every receipt checked afterwards)
 * with 32 answers in flight as at concurrency 32, and one at a time (every receipt signed alone,
 * as at low load); beside viem's generic signTypedData (the protocol's signReceipt) and the
 * gateway's verifier (remembering batch roots' signers, as the gateway does).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Outbox } from "../../provider-runtime/src/outbox";
import { createReceiptSigner, type Served } from "../../provider-runtime/src/receipts";
import { loadKeccak } from "../../provider-runtime/src/keccak";
import {
  decodeSignedReceipt,
  receiptDomain,
  signReceipt,
  verifyReceipt,
  type Receipt,
  type SignedReceipt,
} from "../../workers/core/protocol/receipt";
import { BatchSigners } from "../../workers/core/protocol/receipt-batch";

export interface ReceiptRates {
  /** The agent's path with 32 answers in flight: sign + encode + outbox append, the outbox fsync'd before the clock stops. */
  agentSignedPerSec: number;
  /** The same path one receipt at a time (each signed alone). */
  agentAlonePerSec: number;
  /** Receipts per batch signature with 32 in flight. */
  receiptsPerSignature: number;
  /** viem's generic EIP-712 signer (what the agent used without its fast path). */
  viemSignedPerSec: number;
  verifiedPerSec: number;
}

const CHAIN_ID = 31337;
/** Answers in flight in the agent at the bench's concurrency 32. */
const IN_FLIGHT = 32;
const served = (i: number): Served => ({
  requestId: `gen-bench-${Date.now()}-${i}`,
  model: "bench",
  promptTokens: 12,
  completionTokens: 16,
  responseHash: `0x${"ab".repeat(32)}`,
});

export async function receiptThroughput(seconds = 1): Promise<ReceiptRates> {
  const privateKey = generatePrivateKey();
  const account = privateKeyToAccount(privateKey);
  const domain = receiptDomain(CHAIN_ID);
  const dir = mkdtempSync(path.join(os.tmpdir(), "meshgate-bench-receipts-"));
  try {
    const outbox = await Outbox.open(dir, () => {});
    // Built as the agent builds it (its comb table and first nonces are made here, outside the clock).
    const signer = createReceiptSigner({
      account,
      privateKey,
      chainId: CHAIN_ID,
      gateway: account.address,
      inputPriceMicro: 100_000n,
      outputPriceMicro: 200_000n,
      keccak: await loadKeccak(),
    });
    const wire: string[] = [];
    let issued = 0;
    let t0 = performance.now();
    const until = t0 + seconds * 1000;
    // 32 answers in flight: each one's receipt is asked for as the previous one's is done.
    const inFlight = async () => {
      while (performance.now() < until) {
        const s = served(issued++);
        const receipt = await signer.sign(s);
        outbox.add({ requestId: s.requestId, receipt });
        wire.push(receipt);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, inFlight));
    await outbox.sync();
    const agentSignedPerSec = wire.length / ((performance.now() - t0) / 1000);
    const signatures = new Set(wire.map((w) => decodeSignedReceipt(w)!.signature)).size;

    let alone = 0;
    t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const s = served(issued++);
      const receipt = await signer.sign(s);
      outbox.add({ requestId: s.requestId, receipt });
      alone++;
      if (alone % 256 === 0) await yieldToIo(); // lets the outbox's group commits run, as the event loop does
    }
    await outbox.sync();
    const agentAlonePerSec = alone / ((performance.now() - t0) / 1000);
    await outbox.close();
    if (outbox.size !== wire.length + alone) throw new Error(`the outbox holds ${outbox.size} of ${wire.length + alone} receipts`);

    let viemSigned = 0;
    t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const s = served(viemSigned++);
      const r: Receipt = {
        ...s,
        inputPrice: 100_000n,
        outputPrice: 200_000n,
        provider: account.address,
        gateway: account.address,
        timestamp: BigInt(Date.now()),
      };
      await signReceipt(account, domain, r);
    }
    const viemSignedPerSec = viemSigned / ((performance.now() - t0) / 1000);

    const decoded = wire.map((w) => decodeSignedReceipt(w)!);
    const signers = new BatchSigners();
    const check = (d: SignedReceipt) => verifyReceipt(domain, d.receipt, d.signature, account.address, { batch: d.batch, signers });
    let verified = 0;
    t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 && verified < decoded.length) {
      const d = decoded[verified]!;
      if (!(await check(d))) throw new Error("a receipt did not verify");
      verified++;
    }
    const verifiedPerSec = verified / ((performance.now() - t0) / 1000);
    // Off the clock, a sample of the rest too (the last ones, made after many nonce refills).
    for (const d of decoded.slice(Math.max(verified, decoded.length - 50))) {
      if (!(await check(d))) throw new Error("a receipt did not verify");
    }
    return { agentSignedPerSec, agentAlonePerSec, receiptsPerSignature: wire.length / signatures, viemSignedPerSec, verifiedPerSec };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
