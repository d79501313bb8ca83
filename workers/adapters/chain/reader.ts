/**
 * Reading the L2 (viem over HTTP, the same in workerd and Node): the head, the Settlement
 * contract's events, stakes, escrow and batch state. No key: the request path and the chain-sync
 * job use only this. Its failures are classified (./errors.ts).
 */
import {
  type Address,
  createPublicClient,
  defineChain,
  type Hex,
  http,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
} from "viem";
import { Settlement } from "../../../contracts/generated/artifacts";
import type { ChainConfig } from "../../config";
import type { DepositEvent, FundEvents, WithdrawalClose, WithdrawalEvent } from "../../core/settlement/chain-events";
import type { ChainReader } from "../../ports";
import { classified } from "./errors";

export function chainDefinition(c: Pick<ChainConfig, "chainId" | "rpcUrl">) {
  return defineChain({
    id: c.chainId,
    name: `chain ${c.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [c.rpcUrl] } },
  });
}

/** The port plus its viem client and settings, which the operator's signer builds on. */
export type ViemChainReader = ReturnType<typeof chainReader>;

/** The ChainReader port over viem. */
export function chainReader(c: ChainConfig) {
  const client = createPublicClient({
    chain: chainDefinition(c),
    transport: http(c.rpcUrl, { retryCount: 2, timeout: 10_000 }),
    cacheTime: 0,
  });
  const contract = { address: c.settlement, abi: Settlement.abi } as const;
  const port: ChainReader = {
    head: () => client.getBlockNumber({ cacheTime: 0 }),
    blockHash: async (blockNumber: bigint): Promise<Hex> => (await client.getBlock({ blockNumber })).hash,

    /** Deposits and withdrawal requests in [from, to], in chain order. */
    async fundEvents(fromBlock: bigint, toBlock: bigint): Promise<FundEvents> {
      const logs = await client.getContractEvents({ ...contract, fromBlock, toBlock, strict: true });
      const deposits: DepositEvent[] = [];
      const withdrawals: WithdrawalEvent[] = [];
      const closes: WithdrawalClose[] = [];
      for (const l of logs) {
        if (l.eventName === "Deposited") {
          deposits.push({
            txHash: l.transactionHash,
            logIndex: l.logIndex,
            blockNumber: l.blockNumber,
            blockHash: l.blockHash,
            account: l.args.account,
            from: l.args.from,
            amountBase: l.args.amount,
          });
        } else if (l.eventName === "WithdrawalRequested") {
          withdrawals.push({
            txHash: l.transactionHash,
            logIndex: l.logIndex,
            blockNumber: l.blockNumber,
            account: l.args.account,
            owner: l.args.owner,
            amountBase: l.args.amount,
            availableAt: BigInt(l.args.availableAt),
          });
        } else if (l.eventName === "WithdrawalCancelled") {
          closes.push({
            txHash: l.transactionHash,
            logIndex: l.logIndex,
            blockNumber: l.blockNumber,
            account: l.args.account,
            kind: "cancelled",
            paidBase: 0n,
          });
        } else if (l.eventName === "Withdrawn") {
          closes.push({
            txHash: l.transactionHash,
            logIndex: l.logIndex,
            blockNumber: l.blockNumber,
            account: l.args.account,
            kind: "withdrawn",
            paidBase: l.args.amount,
          });
        }
      }
      return { deposits, withdrawals, closes };
    },

    stakeOf: (provider: Address) => client.readContract({ ...contract, functionName: "stakeOf", args: [provider] }),
    escrow: () => client.readContract({ ...contract, functionName: "escrow" }),
    isSettled: (batchId: Hex) => client.readContract({ ...contract, functionName: "isSettled", args: [batchId] }),

    /** The transaction that settled `batchId`, from its `Settled` event (null if none). */
    async settledBy(batchId: Hex): Promise<{ txHash: Hex; blockNumber: bigint } | null> {
      const logs = await client.getContractEvents({
        ...contract,
        eventName: "Settled",
        args: { batchId },
        fromBlock: c.startBlock,
        toBlock: "latest",
      });
      const l = logs[0];
      return l ? { txHash: l.transactionHash, blockNumber: l.blockNumber } : null;
    },

    async receipt(hash: Hex) {
      try {
        return await client.getTransactionReceipt({ hash });
      } catch (err) {
        if (err instanceof TransactionReceiptNotFoundError) return null;
        throw err;
      }
    },
    /** Whether the node knows the transaction (pending or mined). */
    async knows(hash: Hex): Promise<boolean> {
      try {
        await client.getTransaction({ hash });
        return true;
      } catch (err) {
        if (err instanceof TransactionNotFoundError) return false;
        throw err;
      }
    },
    nonce: (address: Address, blockTag: "latest" | "pending") => client.getTransactionCount({ address, blockTag }),
  };
  // A node that cannot be reached or answers an error surfaces as core's ChainUnavailableError / ChainRpcError.
  return { ...classified(port), client, config: c };
}
