/** Deploys MockUSDC and Settlement to a local chain from the generated artifacts; waits for receipts. */
import { getAddress, type Address, type Hash, type Hex } from "viem";
import { MockUSDC, Settlement } from "../contracts/generated/artifacts";
import { createLocalClients, type LocalClients } from "./clients";

export interface DeployMeshgateOptions {
  rpcUrl: string;
  /** Deploys both contracts and owns Settlement. */
  ownerKey: Hex;
  operator: Address;
  treasury: Address;
  /** Seconds; `withdrawalDelay` must exceed `settlementPeriod + disputeWindow`. */
  settlementPeriod: bigint | number;
  disputeWindow: bigint | number;
  withdrawalDelay: bigint | number;
}

export interface MeshgateDeployment {
  usdc: Address;
  settlement: Address;
  chainId: number;
  /** The first block holding either contract: where an event scan starts. */
  deployBlock: bigint;
}

export async function deployMeshgate(opts: DeployMeshgateOptions): Promise<MeshgateDeployment> {
  const { chain, publicClient, walletClient } = await createLocalClients(opts.rpcUrl);
  const wallet = walletClient(opts.ownerKey);
  const usdc = await deployed(publicClient, await wallet.deployContract({ abi: MockUSDC.abi, bytecode: MockUSDC.bytecode }));
  const settlement = await deployed(
    publicClient,
    await wallet.deployContract({
      abi: Settlement.abi,
      bytecode: Settlement.bytecode,
      args: [
        usdc.address,
        wallet.account.address,
        opts.operator,
        opts.treasury,
        BigInt(opts.settlementPeriod),
        BigInt(opts.disputeWindow),
        BigInt(opts.withdrawalDelay),
      ],
    }),
  );
  return { usdc: usdc.address, settlement: settlement.address, chainId: chain.id, deployBlock: usdc.blockNumber };
}

async function deployed(publicClient: LocalClients["publicClient"], hash: Hash): Promise<{ address: Address; blockNumber: bigint }> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) throw new Error(`deployment ${hash} failed (${receipt.status})`);
  return { address: getAddress(receipt.contractAddress), blockNumber: receipt.blockNumber };
}
