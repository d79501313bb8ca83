/**
 * The settlement operator's signer (the Operator port). Only the settlement job's wiring constructs
 * one (workers/wire.ts, for the worker and the Node job runner); nothing on the request path does.
 *
 * Transactions are signed with an explicit nonce and stored before they are broadcast, so a crash
 * never loses track of a transaction that may land: the same bytes are re-broadcast, never a new
 * payout under a new nonce while the old one may still be mined.
 */
import { BaseError, ContractFunctionRevertedError, encodeFunctionData, type Hex, keccak256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Settlement } from "../../../contracts/generated/artifacts";
import type { SettleCall, SignedTx } from "../../core/settlement/chain-events";
import { WouldRevertError } from "../../core/settlement/errors";
import type { Operator } from "../../ports";
import { classified } from "./errors";
import type { ViemChainReader } from "./reader";

export function operator(reader: ViemChainReader, privateKey: string): Operator {
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw new Error("OPERATOR_PRIVATE_KEY must be a 0x-prefixed 32-byte hex key");
  const account = privateKeyToAccount(privateKey as Hex);
  const { client, config } = reader;
  return classified<Operator>({
    address: account.address,

    /** Signs `settle` at `nonce` after simulating it; throws WouldRevertError if it would revert. */
    async signSettle(call: SettleCall, nonce: number): Promise<SignedTx> {
      const args = [call.batchId, call.merkleRoot, call.providers, call.amounts, call.feeBase] as const;
      let gas: bigint;
      try {
        gas = await client.estimateContractGas({ address: config.settlement, abi: Settlement.abi, functionName: "settle", args, account });
      } catch (err) {
        if (err instanceof BaseError && err.walk((e) => e instanceof ContractFunctionRevertedError))
          throw new WouldRevertError(err.shortMessage);
        throw err;
      }
      const fees = await client.estimateFeesPerGas();
      const raw = await account.signTransaction({
        type: "eip1559",
        chainId: config.chainId,
        to: config.settlement,
        nonce,
        data: encodeFunctionData({ abi: Settlement.abi, functionName: "settle", args }),
        gas: (gas * 12n) / 10n, // headroom: storage is warmer or colder by the time it mines
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      return { nonce, hash: keccak256(raw), raw };
    },

    /**
     * Lowers a pending withdrawal to what the ledger held (during the dispute window). Idempotent on
     * chain: limiting to the same amount again changes nothing, so a re-send after a crash is harmless.
     */
    async limitWithdrawal(customer: Hex, amountBase: bigint): Promise<{ hash: Hex; ok: boolean }> {
      const { request } = await client
        .simulateContract({
          address: config.settlement,
          abi: Settlement.abi,
          functionName: "limitWithdrawal",
          args: [customer, amountBase],
          account,
        })
        .catch((err: unknown) => {
          if (err instanceof BaseError && err.walk((e) => e instanceof ContractFunctionRevertedError))
            throw new WouldRevertError(err.shortMessage);
          throw err;
        });
      const nonce = await client.getTransactionCount({ address: account.address, blockTag: "pending" });
      const raw = await account.signTransaction({
        type: "eip1559",
        chainId: config.chainId,
        to: config.settlement,
        nonce,
        data: encodeFunctionData({ abi: Settlement.abi, functionName: "limitWithdrawal", args: request.args }),
        gas: 100_000n,
        ...(await client.estimateFeesPerGas()),
      });
      const hash = await client.sendRawTransaction({ serializedTransaction: raw });
      const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 250, timeout: 60_000 });
      return { hash, ok: receipt.status === "success" };
    },

    /** Broadcasts signed bytes. A node that already has them is fine; "nonce too low" means that nonce is spent. */
    async broadcast(raw: Hex): Promise<"sent" | "nonce_spent"> {
      try {
        await client.sendRawTransaction({ serializedTransaction: raw });
        return "sent";
      } catch (err) {
        const text = err instanceof BaseError ? `${err.shortMessage} ${err.details ?? ""}` : String(err);
        if (/already known|already imported|known transaction/i.test(text)) return "sent";
        if (/nonce too low|nonce has already been used|NonceTooLow/i.test(text)) return "nonce_spent";
        throw err;
      }
    },
  });
}
