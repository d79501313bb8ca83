/**
 * The agent bench's receipt microbench, on the one core this process is pinned to: the signing
 * path as the agent runs it (createReceiptSigner with the wallet key: the hand-written EIP-712
 * digest and the fast secp256k1 signer, the wire form, the outbox append with its group-commit
 * fsync, every signature checked afterwards), beside viem's generic signTypedData (the protocol's
 * signReceipt) and the gateway's verifier.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Outbox } from "../../provider-runtime/src/outbox";
import { createReceiptSigner, type Served } from "../../provider-runtime/src/receipts";
import { decodeSignedReceipt, receiptDomain, signReceipt, verifyReceipt, type Receipt } from "../../workers/core/protocol/receipt";

export interface ReceiptRates {
  /** The agent's path: sign + encode + outbox append, the outbox fsync'd before the clock stops. */
  agentSignedPerSec: number;
  /** viem's generic EIP-712 signer (what the agent used without its fast path). */
  viemSignedPerSec: number;
  verifiedPerSec: number;
}

const CHAIN_ID = 31337;
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
    });
    const wire: string[] = [];
    let t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const s = served(wire.length);
      const receipt = await signer.sign(s);
      outbox.add({ requestId: s.requestId, receipt });
      wire.push(receipt);
      if (wire.length % 256 === 0) await yieldToIo(); // lets the outbox's group commits run, as the event loop does
    }
    await outbox.sync();
    const agentSignedPerSec = wire.length / ((performance.now() - t0) / 1000);
    await outbox.close();
    if (outbox.size !== wire.length) throw new Error(`the outbox holds ${outbox.size} of ${wire.length} receipts`);

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
    let verified = 0;
    t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 && verified < decoded.length) {
      const d = decoded[verified]!;
      if (!(await verifyReceipt(domain, d.receipt, d.signature, account.address))) throw new Error("a receipt did not verify");
      verified++;
    }
    const verifiedPerSec = verified / ((performance.now() - t0) / 1000);
    // Off the clock, a sample of the rest too (the last ones, made after many nonce refills).
    for (const d of decoded.slice(Math.max(verified, decoded.length - 50))) {
      if (!(await verifyReceipt(domain, d.receipt, d.signature, account.address))) throw new Error("a receipt did not verify");
    }
    return { agentSignedPerSec, viemSignedPerSec, verifiedPerSec };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
