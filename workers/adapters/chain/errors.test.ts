/**
 * The chain adapter's classification against real viem clients: over loopback to a port nobody
 * listens on, and over viem's HTTP transport with a `fetchFn` answering the way a failing node (or
 * the gateway in front of it) does. No network beyond loopback.
 */
import { createPublicClient, http } from "viem";
import { describe, expect, it } from "vitest";
import type { ChainConfig } from "../../config";
import { ChainRpcError, ChainUnavailableError } from "../../core/settlement/errors";
import { classifyChainError } from "./errors";
import { operator } from "./operator";
import { chainReader } from "./reader";

const SECRET = "s3cr3t-api-key";
const configAt = (rpcUrl: string): ChainConfig => ({
  rpcUrl,
  chainId: 31337,
  settlement: "0x00000000000000000000000000000000000000aa",
  usdc: "0x00000000000000000000000000000000000000bb",
  confirmations: 1,
  startBlock: 0n,
  minStakeBase: 0n,
  maxPayoutsPerBatch: 10,
  settlementWaitMs: 0,
});

/** A loopback URL (carrying a "key", as a hosted node's does) on a port that refuses connections. */
async function closedPort(): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const url = `http://127.0.0.1:${20_000 + Math.floor(Math.random() * 40_000)}/v2/${SECRET}`;
    const refused = await fetch(url).then(
      () => false,
      (e: unknown) => (e as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED",
    );
    if (refused) return url;
  }
  throw new Error("no closed loopback port found");
}

/** viem's HTTP transport over a `fetch` that answers every request with `answer`. */
const nodeAnswering = (answer: (init: RequestInit | undefined) => Promise<Response>) =>
  createPublicClient({
    transport: http(`https://rpc.example/v2/${SECRET}`, { retryCount: 0, timeout: 100, fetchFn: (_input, init) => answer(init) }),
  });
const rpcError = (message: string) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", id: 0, error: { code: -32000, message } }), {
    headers: { "content-type": "application/json" },
  });

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );

describe("the chain adapter's errors", () => {
  it("a node nobody listens on is ChainUnavailableError, naming the refusal and not the URL", async () => {
    const err = await rejection(chainReader(configAt(await closedPort())).head());
    expect(err).toBeInstanceOf(ChainUnavailableError);
    const message = (err as Error).message;
    expect(message).toMatch(/could not be reached/);
    expect(message).toContain("ECONNREFUSED");
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain("127.0.0.1");
  });

  it("every read of the port is classified, contract reads and the operator's broadcast included", async () => {
    const reader = chainReader(configAt(await closedPort()));
    expect(await rejection(reader.escrow())).toBeInstanceOf(ChainUnavailableError);
    expect(await rejection(reader.receipt(`0x${"11".repeat(32)}`))).toBeInstanceOf(ChainUnavailableError);
    const signer = operator(reader, `0x${"01".repeat(32)}`);
    expect(await rejection(signer.broadcast("0x02"))).toBeInstanceOf(ChainUnavailableError);
  });

  it("a gateway in front of the node failing (HTTP 503, 429) is ChainUnavailableError; a refusal (HTTP 401) is ChainRpcError", async () => {
    for (const status of [503, 429]) {
      const err = classifyChainError(await rejection(nodeAnswering(async () => new Response("down", { status })).getBlockNumber()));
      expect(err).toBeInstanceOf(ChainUnavailableError);
    }
    const err = classifyChainError(await rejection(nodeAnswering(async () => new Response("bad key", { status: 401 })).getBlockNumber()));
    expect(err).toBeInstanceOf(ChainRpcError);
    expect((err as Error).message).toContain("HTTP 401");
    expect((err as Error).message).not.toContain(SECRET);
  });

  it("a node that answers a JSON-RPC error is ChainRpcError with the node's reason", async () => {
    const err = classifyChainError(await rejection(nodeAnswering(async () => rpcError("header not found")).getBlockNumber()));
    expect(err).toBeInstanceOf(ChainRpcError);
    expect((err as Error).message).toContain("header not found");
    expect((err as Error).message).not.toContain(SECRET);
  });

  it("a node that does not answer in time is ChainUnavailableError", async () => {
    const never = (init: RequestInit | undefined) =>
      new Promise<Response>((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(new DOMException("This operation was aborted", "AbortError"))),
      );
    const err = classifyChainError(await rejection(nodeAnswering(never).getBlockNumber()));
    expect(err).toBeInstanceOf(ChainUnavailableError);
    expect((err as Error).message).toMatch(/did not answer in time/);
    expect((err as Error).message).not.toContain(SECRET);
  });

  it("leaves errors that are not viem's as they are", () => {
    const bug = new TypeError("a bug");
    expect(classifyChainError(bug)).toBe(bug);
  });
});
