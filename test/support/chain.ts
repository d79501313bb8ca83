/** Chain access for e2e tests: viem clients on the network's local L2, contract reads, the Node job runner. */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import type { Address, Hex } from "viem";
import { createLocalClients, type LocalClients } from "../../chain/clients";
import { OPERATOR_KEY } from "../../chain/accounts";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import type { DevInfo, DevProvider } from "../../scripts/lib/network";
import type { ChainInfo } from "../../scripts/lib/local-chain";

const run = promisify(execFile);

export function chainOf(dev: DevInfo): ChainInfo {
  if (!dev.chain) throw new Error("the network was started without a chain");
  return dev.chain;
}

export const clientsFor = (dev: DevInfo): Promise<LocalClients> => createLocalClients(chainOf(dev).rpcUrl);

/** The provider agent's wallet key (from the command that started it). */
export function walletKeyOf(p: DevProvider): Hex {
  const i = p.restart.args.indexOf("--wallet-key-file");
  return readFileSync(p.restart.args[i + 1]!, "utf8").trim() as Hex;
}

export async function usdcBalance(c: LocalClients, dev: DevInfo, who: Address): Promise<bigint> {
  return c.publicClient.readContract({ address: chainOf(dev).usdc, abi: MockUSDC.abi, functionName: "balanceOf", args: [who] });
}

export async function earningsOf(c: LocalClients, dev: DevInfo, who: Address): Promise<bigint> {
  return c.publicClient.readContract({ address: chainOf(dev).settlement, abi: Settlement.abi, functionName: "earnings", args: [who] });
}

/** Every `Settled` event of the contract, oldest first. */
export async function settledEvents(c: LocalClients, dev: DevInfo) {
  return c.publicClient.getContractEvents({
    address: chainOf(dev).settlement,
    abi: Settlement.abi,
    eventName: "Settled",
    fromBlock: 0n,
    toBlock: "latest",
  });
}

/** Runs `npm run job:settlement` (Node) against the network; `crashAt` makes it SIGKILL itself at that step. */
export async function settleFromNode(
  dev: DevInfo,
  crashAt?: string,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const chain = chainOf(dev);
  const env = {
    ...process.env,
    DATABASE_URL: dev.databaseUrl,
    CHAIN_RPC_URL: chain.rpcUrl,
    CHAIN_ID: String(chain.chainId),
    SETTLEMENT_ADDRESS: chain.settlement,
    USDC_ADDRESS: chain.usdc,
    CHAIN_CONFIRMATIONS: "1",
    CHAIN_START_BLOCK: chain.deployBlock,
    OPERATOR_PRIVATE_KEY: OPERATOR_KEY,
    SETTLEMENT_WAIT_MS: "10000",
    ...(crashAt ? { MESHGATE_CRASH_AT: crashAt } : {}),
  };
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "scripts/settle.ts"], { env, timeout: 60_000 });
    return { code: 0, signal: null, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | null; signal?: string | null; stdout?: string; stderr?: string };
    return { code: e.code ?? null, signal: e.signal ?? null, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}
