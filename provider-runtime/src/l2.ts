/**
 * The provider's view of the L2: a viem chain from the gateway's chain id and the provider's own
 * RPC URL, and the few Settlement functions the agent calls. The ABI is written out here rather
 * than imported from contracts/generated/artifacts.ts so the bundled agent (and its Docker build
 * stage, which copies only provider-runtime/ and workers/core/) carries no contract bytecode;
 * l2.test.ts checks every entry against the generated artifacts so the two cannot drift.
 */
import { createPublicClient, createWalletClient, defineChain, http, parseAbi, type Chain, type PublicClient } from "viem";
import type { LocalAccount } from "viem/accounts";
import { FatalError } from "./errors";

/** Local anvil mines at once; viem's 4 s default would make every receipt wait seconds. */
const POLLING_MS = 100;

export const settlementAbi = parseAbi([
  "function stake(uint256 amount)",
  "function stakeOf(address provider) view returns (uint256)",
  "function usdc() view returns (address)",
  "function batchRoots(bytes32 batchId) view returns (bytes32)",
  // Reverts of stake(), so viem names them (the ERC20 ones bubble up from the token via SafeERC20).
  "error ZeroAmount()",
  "error EnforcedPause()",
  "error SafeERC20FailedOperation(address token)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
]);

export function l2Chain(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

export function l2PublicClient(chainId: number, rpcUrl: string): PublicClient {
  return createPublicClient({
    chain: l2Chain(chainId, rpcUrl),
    transport: http(rpcUrl, { timeout: 15_000 }),
    pollingInterval: POLLING_MS,
    cacheTime: 0,
  });
}

export function l2WalletClient(chainId: number, rpcUrl: string, account: LocalAccount) {
  return createWalletClient({
    chain: l2Chain(chainId, rpcUrl),
    transport: http(rpcUrl, { timeout: 15_000 }),
    account,
    pollingInterval: POLLING_MS,
    cacheTime: 0,
  });
}

/** The chain id the node at `rpcUrl` reports. */
export function readChainId(rpcUrl: string): Promise<number> {
  return createPublicClient({ transport: http(rpcUrl, { timeout: 15_000 }) }).getChainId();
}

/** A node on another chain would answer every read with some other contract's state: refuse it. */
export async function assertChainId(client: PublicClient, chainId: number, rpcUrl: string): Promise<void> {
  const actual = await client.getChainId();
  if (actual !== chainId) throw new FatalError(`--rpc-url ${redactUrl(rpcUrl)} is on chain ${actual}, the gateway on chain ${chainId}`);
}

/** Hosted RPC URLs often carry an API key in the path or query: show only the origin. */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}
