/**
 * One anvil per test file with MockUSDC and Settlement deployed, named dev wallets, and helpers to
 * send a transaction, expect a custom-error revert, sign EIP-2612 / EIP-3009 messages and move time.
 * `useChain()` registers beforeAll/afterAll (anvil) and beforeEach/afterEach (evm_snapshot/evm_revert).
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import {
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  getContract,
  keccak256,
  parseEventLogs,
  parseSignature,
  toHex,
  type Abi,
  type Address,
  type Hash,
  type Hex,
  type TransactionReceipt,
} from "viem";
import { ANVIL_KEYS, OPERATOR_KEY, OWNER_KEY, TREASURY_KEY } from "../../chain/accounts";
import { startAnvil, type Anvil } from "../../chain/anvil";
import { createLocalClients, type LocalClients } from "../../chain/clients";
import { deployMeshgate, type MeshgateDeployment } from "../../chain/deploy";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import { usdcPermit } from "../../chain/permit";

export const PERIOD = 3_600n;
export const DISPUTE = 1_800n;
export const DELAY = 7_200n; // > PERIOD + DISPUTE
export const USDC = (n: number) => BigInt(Math.round(n * 1e6));

export type Wallet = ReturnType<LocalClients["walletClient"]>;

export interface Chain extends LocalClients {
  anvil: Anvil;
  deployment: MeshgateDeployment;
  owner: Wallet;
  operator: Wallet;
  treasury: Wallet;
  /** Customers and providers: dev accounts 3–9. */
  users: [Wallet, Wallet, Wallet, Wallet, Wallet, Wallet, Wallet];
}

async function setupChain(): Promise<Chain> {
  const anvil = await startAnvil();
  const clients = await createLocalClients(anvil.rpcUrl);
  const [owner, operator, treasury] = [OWNER_KEY, OPERATOR_KEY, TREASURY_KEY].map(clients.walletClient) as [Wallet, Wallet, Wallet];
  const deployment = await deployMeshgate({
    rpcUrl: anvil.rpcUrl,
    ownerKey: OWNER_KEY,
    operator: operator.account.address,
    treasury: treasury.account.address,
    settlementPeriod: PERIOD,
    disputeWindow: DISPUTE,
    withdrawalDelay: DELAY,
  });
  const users = ANVIL_KEYS.slice(3).map(clients.walletClient) as Chain["users"];
  return { anvil, ...clients, deployment, owner, operator, treasury, users };
}

/** The chain for this file; each test runs in its own snapshot. */
export function useChain(): () => Chain {
  let chain: Chain | undefined;
  let snapshot: Hex | undefined;
  beforeAll(async () => void (chain = await setupChain()), 30_000);
  afterAll(async () => chain?.anvil.stop());
  beforeEach(async () => void (snapshot = await chain!.testClient.snapshot()));
  afterEach(async () => {
    if (snapshot) await chain!.testClient.revert({ id: snapshot });
  });
  return () => chain!;
}

/** Settlement's ABI plus MockUSDC's errors, which bubble up through deposits. */
const settlementAbi = [...Settlement.abi, ...MockUSDC.abi.filter((x) => x.type === "error")] as const;

export const settlementAs = (c: Chain, wallet: Wallet) =>
  getContract({ address: c.deployment.settlement, abi: settlementAbi, client: { public: c.publicClient, wallet } });
export const usdcAs = (c: Chain, wallet: Wallet) =>
  getContract({ address: c.deployment.usdc, abi: MockUSDC.abi, client: { public: c.publicClient, wallet } });

/** Waits for the transaction and requires success. */
export async function mined(c: Chain, hash: Promise<Hash>): Promise<TransactionReceipt> {
  const receipt = await c.publicClient.waitForTransactionReceipt({ hash: await hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

/** Settlement's events in a receipt, as { eventName, args }. */
export function settlementEvents(c: Chain, receipt: TransactionReceipt) {
  const logs = receipt.logs.filter((l) => l.address.toLowerCase() === c.deployment.settlement.toLowerCase());
  return parseEventLogs({ abi: Settlement.abi, logs }).map(({ eventName, args }) => ({ eventName, args }));
}

/** Requires the call to revert with the custom error `errorName` (and, if given, these arguments). */
export async function expectRevert(call: Promise<unknown>, errorName: string, args?: readonly unknown[]): Promise<void> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) throw new Error(`expected a revert with ${errorName}, but the call succeeded`);
  const decoded = revertOf(err);
  if (!decoded) throw err;
  expect(decoded.errorName).toBe(errorName);
  if (args) expect(decoded.args).toEqual(args);
}

/** Every custom error our contracts can revert with. */
const allErrors = [...Settlement.abi, ...MockUSDC.abi].filter((x) => x.type === "error");

/** The custom error in a viem error: decoded by viem for calls, by hand for deployments (raw revert data). */
export function revertOf(err: unknown): { errorName: string; args?: readonly unknown[] } | null {
  if (!(err instanceof BaseError)) return null;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    return { errorName: reverted.data?.errorName ?? reverted.signature ?? reverted.reason ?? "unknown", args: reverted.data?.args };
  }
  const raw = err.walk((e) => typeof (e as { data?: unknown }).data === "string") as { data?: Hex } | null;
  if (!raw?.data) return null;
  try {
    return decodeErrorResult({ abi: allErrors, data: raw.data });
  } catch {
    return { errorName: raw.data };
  }
}

/** Sends; true if mined successfully, false if it reverted with a custom error (anything else throws). */
export async function attempt(c: Chain, hash: () => Promise<Hash>): Promise<boolean> {
  try {
    await mined(c, hash());
    return true;
  } catch (err) {
    if (revertOf(err)) return false;
    throw err;
  }
}

/** Mints `amount` to the wallet and approves Settlement for it. */
export async function fund(c: Chain, wallet: Wallet, amount: bigint): Promise<void> {
  const usdc = usdcAs(c, wallet);
  await mined(c, usdc.write.mint([wallet.account.address, amount]));
  await mined(c, usdc.write.approve([c.deployment.settlement, amount]));
}

export async function now(c: Chain): Promise<bigint> {
  return (await c.publicClient.getBlock()).timestamp;
}

/** Advances the chain's clock so that the next block is at `timestamp`. */
export async function warpTo(c: Chain, timestamp: bigint): Promise<void> {
  await c.testClient.setNextBlockTimestamp({ timestamp });
  await c.testClient.mine({ blocks: 1 });
}

export const account = (label: string) => keccak256(toHex(`account:${label}`));
export const randomNonce = () => keccak256(toHex(`${Math.random()}:${process.hrtime.bigint()}`));

function vrs(signature: Hex) {
  const { r, s, yParity } = parseSignature(signature);
  return { v: 27 + yParity, r, s };
}

const domain = (c: Chain) => ({ name: "USD Coin", version: "2", chainId: c.chain.id, verifyingContract: c.deployment.usdc });

/** An EIP-2612 permit from `wallet` for `spender`. */
export async function signPermit(c: Chain, wallet: Wallet, spender: Address, value: bigint, deadline: bigint) {
  const nonce = await usdcAs(c, wallet).read.nonces([wallet.account.address]);
  const signature = await wallet.signTypedData(
    usdcPermit({ chainId: c.chain.id, usdc: c.deployment.usdc, owner: wallet.account.address, spender, value, nonce, deadline }),
  );
  return vrs(signature);
}

export type Authorization = {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
};

/** An EIP-3009 TransferWithAuthorization or ReceiveWithAuthorization signed by `wallet`. */
export async function signAuthorization(
  c: Chain,
  wallet: Wallet,
  kind: "TransferWithAuthorization" | "ReceiveWithAuthorization",
  auth: Authorization,
) {
  const fields = [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ] as const;
  const signature = await wallet.signTypedData({ domain: domain(c), primaryType: kind, types: { [kind]: fields }, message: auth });
  return vrs(signature);
}

/** Settlement's custom errors, to decode reverts that bubble up through another contract. */
export const settlementErrors = Settlement.abi.filter((x) => x.type === "error") satisfies Abi;
