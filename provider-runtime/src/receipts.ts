/**
 * Receipts: count what the engine served and sign it (SPEC §2). JSON bodies carry `usage`; streams
 * are tapped event by event for the usage chunk (the gateway always asks for include_usage), with
 * the content chunks seen as the count when no usage arrived (a stream cut short). Both are read
 * by the gateway's own rules (core/openai/chunks), so the two sides count a stream alike.
 */
import { createHash, type Hash } from "node:crypto";
import { createParser, type EventSourceParser } from "eventsource-parser";
import { bytesToHex, getTypesForEIP712Domain, hashStruct, hexToBytes, keccak256, type Hex, type TypedDataDomain } from "viem";
import { sign, type LocalAccount } from "viem/accounts";
import { contentDeltas, parseChunk, readUsage, type TokenCounts } from "../../workers/core/openai/chunks";
import { encodeSignedReceipt, receiptDomain, ReceiptTypes, signReceipt, type Receipt } from "../../workers/core/protocol/receipt";

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
}

export function createReceiptSigner(o: ReceiptSignerOptions): ReceiptSigner {
  const domain: TypedDataDomain = receiptDomain(o.chainId);
  const now = o.now ?? Date.now;
  const fast = o.privateKey ? fastDigester(domain) : null;
  return {
    async sign(s) {
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
      const signature =
        fast && o.privateKey
          ? await sign({ hash: fast(receipt), privateKey: o.privateKey, to: "hex" })
          : await signReceipt(o.account, domain, receipt);
      return encodeSignedReceipt(receipt, signature);
    },
  };
}

/** The field list the fast encoder is written for; any change in the protocol's ReceiptTypes disables it. */
const FAST_LAYOUT =
  "string requestId,string model,uint32 promptTokens,uint32 completionTokens,uint64 inputPrice,uint64 outputPrice," +
  "address provider,address gateway,bytes32 responseHash,uint64 timestamp";

/**
 * The EIP-712 digest of a receipt (the same as the protocol's receiptDigest, which tests check),
 * encoded by hand for this one fixed struct: viem's generic hashTypedData validates and walks the
 * types on every call, which costs more than the signature itself on the hot path. The domain
 * separator and type hash are computed once; the model's hash is remembered. Null when the
 * protocol's ReceiptTypes no longer has the layout it was written for (then viem signs).
 */
export function fastDigester(domain: TypedDataDomain): ((r: Receipt) => Hex) | null {
  const layout = ReceiptTypes.Receipt.map((f) => `${f.type} ${f.name}`).join(",");
  if (layout !== FAST_LAYOUT) return null;
  const typeHash = keccak256(new TextEncoder().encode(`Receipt(${layout})`), "bytes");
  const domainSeparator = hexToBytes(
    hashStruct({ data: domain, primaryType: "EIP712Domain", types: { EIP712Domain: getTypesForEIP712Domain({ domain }) } }),
  );
  const encoder = new TextEncoder();
  const modelHashes = new Map<string, Uint8Array>();
  const text = (s: string) => keccak256(encoder.encode(s), "bytes");
  return (r) => {
    const words = new Uint8Array(32 * 11);
    const view = new DataView(words.buffer);
    words.set(typeHash, 0);
    words.set(text(r.requestId), 32);
    let model = modelHashes.get(r.model);
    if (!model) {
      model = text(r.model);
      if (modelHashes.size < 64) modelHashes.set(r.model, model);
    }
    words.set(model, 64);
    view.setUint32(96 + 28, r.promptTokens);
    view.setUint32(128 + 28, r.completionTokens);
    view.setBigUint64(160 + 24, r.inputPrice);
    view.setBigUint64(192 + 24, r.outputPrice);
    words.set(hexToBytes(r.provider), 224 + 12);
    words.set(hexToBytes(r.gateway), 256 + 12);
    words.set(hexToBytes(r.responseHash), 288);
    view.setBigUint64(320 + 24, r.timestamp);
    const message = new Uint8Array(66);
    message[0] = 0x19;
    message[1] = 0x01;
    message.set(domainSeparator, 2);
    message.set(keccak256(words, "bytes"), 34);
    return bytesToHex(keccak256(message, "bytes"));
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
