/**
 * Receipts: count what the engine served and sign it (SPEC §2). JSON bodies carry `usage`; streams
 * are tapped event by event for the usage chunk (the gateway always asks for include_usage), with
 * the content chunks seen as the count when no usage arrived (a stream cut short). Both are read
 * by the gateway's own rules (core/openai/chunks), so the two sides count a stream alike.
 */
import { createHash, type Hash } from "node:crypto";
import { createParser, type EventSourceParser } from "eventsource-parser";
import type { Hex, TypedDataDomain } from "viem";
import { sign, type LocalAccount } from "viem/accounts";
import { contentDeltas, parseChunk, readUsage, type TokenCounts } from "../../workers/core/openai/chunks";
import {
  encodeSignedReceipt,
  FIXED_DIGEST,
  receiptDigest,
  receiptDigesterFor,
  receiptDomain,
  signReceipt,
  type Receipt,
} from "../../workers/core/protocol/receipt";
import { receiptBatchDigest } from "../../workers/core/protocol/receipt-batch";
import { receiptBatchTree } from "./receipt-tree";
import { sortedPairHash, type Keccak } from "./keccak";

export type { TokenCounts };

export interface Served {
  requestId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  responseHash: `0x${string}`;
}

export interface ReceiptSigner {
  /** The wire form (encodeSignedReceipt) of a freshly signed receipt. */
  sign(served: Served): Promise<string>;
}

export interface ReceiptSignerOptions {
  account: LocalAccount;
  /** The account's key: with it, receipts are signed on the fast path (receiptDigestFast + sign). */
  privateKey?: Hex;
  chainId: number;
  gateway: `0x${string}`;
  inputPriceMicro: bigint;
  outputPriceMicro: bigint;
  now?: () => number;
  /**
   * The most receipts one batch signature covers (SPEC §2.1); 1 signs every receipt on its own.
   * Receipts asked for in the same event-loop turn are signed together, so a batch is only as
   * large as the load makes it and waits for no timer.
   */
  maxBatch?: number;
  /** A faster keccak-256 (keccak.ts, WebAssembly) for digests and batch trees; viem's by default. */
  keccak?: Keccak;
}

/** Default batch cap: a path of 8 hashes (≈ 0.6 KB in the header) and ≤ 1/256 of a signature per receipt. */
export const DEFAULT_MAX_BATCH = 256;

interface Pending {
  receipt: Receipt;
  resolve: (wire: string) => void;
  reject: (err: unknown) => void;
}

/**
 * Signs receipts by the batch: each sign() joins the receipts waiting for the next turn of the
 * event loop (setImmediate); that turn signs one alone with its own EIP-712 signature, or several
 * under one signature over their Merkle root, each receipt carrying its path. Under load the cost
 * of a secp256k1 signature (≈ 1 ms in JS) is shared by every answer that finished meanwhile.
 */
export function createReceiptSigner(o: ReceiptSignerOptions): ReceiptSigner {
  const domain: TypedDataDomain = receiptDomain(o.chainId);
  const now = o.now ?? Date.now;
  const fast = o.privateKey && FIXED_DIGEST ? receiptDigesterFor(domain, o.keccak) : null;
  const nodeHash = o.keccak ? sortedPairHash(o.keccak) : undefined;
  const maxBatch = Math.max(1, Math.trunc(o.maxBatch ?? DEFAULT_MAX_BATCH));
  const digestOf = (r: Receipt) => (fast ? fast(r) : receiptDigest(domain, r));
  const signHash = (hash: Hex) =>
    o.privateKey
      ? sign({ hash, privateKey: o.privateKey, to: "hex" })
      : (o.account.sign?.({ hash }) ?? Promise.reject(new Error("the account cannot sign a hash")));
  const signAlone = async (r: Receipt) => encodeSignedReceipt(r, fast ? await signHash(fast(r)) : await signReceipt(o.account, domain, r));

  async function signTogether(batch: Pending[]): Promise<string[]> {
    if (batch.length === 1) return [await signAlone(batch[0]!.receipt)];
    const { root, paths } = receiptBatchTree(
      batch.map((p) => digestOf(p.receipt)),
      nodeHash,
    );
    const signature = await signHash(receiptBatchDigest(domain, root));
    return batch.map((p, i) => encodeSignedReceipt(p.receipt, signature, { root, proof: paths[i]! }));
  }

  let waiting: Pending[] = [];
  let scheduled = false;
  function flush() {
    scheduled = false;
    while (waiting.length > 0) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(batch.length);
      signTogether(batch).then(
        (wires) => batch.forEach((p, i) => p.resolve(wires[i]!)),
        // One receipt that cannot be signed fails alone, not the answers batched with it.
        () => batch.forEach((p) => signAlone(p.receipt).then(p.resolve, p.reject)),
      );
    }
  }

  return {
    sign(s) {
      return new Promise<string>((resolve, reject) => {
        // Built (and range-checked) now, so the receipt's timestamp is when it was asked for.
        const receipt: Receipt = {
          requestId: s.requestId,
          model: s.model,
          promptTokens: uint32(s.promptTokens),
          completionTokens: uint32(s.completionTokens),
          inputPrice: o.inputPriceMicro,
          outputPrice: o.outputPriceMicro,
          provider: o.account.address,
          gateway: o.gateway,
          responseHash: s.responseHash,
          timestamp: BigInt(now()),
        };
        waiting.push({ receipt, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}

const uint32 = (n: number) => Math.min(2 ** 32 - 1, Math.max(0, Math.trunc(Number.isFinite(n) ? n : 0)));

/** Incremental sha256 of the bytes as forwarded; equal to the protocol's responseHash(all bytes). */
export class BodyHash {
  private readonly hash: Hash = createHash("sha256");
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  digest(): `0x${string}` {
    return `0x${this.hash.digest("hex")}`;
  }
}

/** `usage` of a JSON completion or embedding body; null if absent or not JSON. */
export function usageFromJson(body: Buffer): TokenCounts | null {
  return readUsage(parseChunk(body.toString("utf8"))?.usage);
}

/** Watches an SSE stream go by without changing it. */
export class StreamTap {
  /** The usage chunk's counts, once it has passed. */
  reported: TokenCounts | null = null;
  /** Delivered tokens by the gateway's definition (contentDeltas): the count when usage never came. */
  contentChunks = 0;
  doneSeen = false;
  private readonly decoder = new TextDecoder();
  private readonly parser: EventSourceParser = createParser({ onEvent: (ev) => this.onData(ev.data) });

  feed(chunk: Uint8Array): void {
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** What the receipt claims: the usage chunk when it came, else what was seen. */
  counts(fallbackPromptTokens: number | null): TokenCounts {
    return this.reported ?? { promptTokens: fallbackPromptTokens ?? 0, completionTokens: this.contentChunks };
  }

  private onData(data: string): void {
    if (data === "[DONE]") {
      this.doneSeen = true;
      return;
    }
    const chunk = parseChunk(data);
    if (!chunk) return;
    this.reported = readUsage(chunk.usage) ?? this.reported;
    this.contentChunks += contentDeltas(chunk);
  }
}
