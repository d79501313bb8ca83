/**
 * The local L2 for `npm start` and the end-to-end tests: anvil with the contracts deployed, plus
 * the faucet moves a developer needs (USDC and gas for a wallet, a customer deposit). Anvil's dev
 * keys are public: the owner, operator, treasury and demo customer here exist only on this chain.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Address, type Hex, keccak256, parseSignature, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_KEYS, OPERATOR_KEY, OWNER_KEY, TREASURY_KEY } from "../../chain/accounts";
import { startAnvil } from "../../chain/anvil";
import { createLocalClients, type LocalClients } from "../../chain/clients";
import { deployMeshgate } from "../../chain/deploy";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import { usdcPermit } from "../../chain/permit";

/** The demo customer's wallet (anvil account 3): it deposits for the developer account. */
export const CUSTOMER_KEY: Hex = ANVIL_KEYS[3];

/** Local periods are short so that delays can be crossed with evm_increaseTime in tests. */
const SETTLEMENT_PERIOD = 3_600n;
const DISPUTE_WINDOW = 3_600n;
const WITHDRAWAL_DELAY = 2n * 3_600n + 60n;

export interface ChainInfo {
  rpcUrl: string;
  chainId: number;
  usdc: Address;
  settlement: Address;
  deployBlock: string;
  operator: Address;
  treasury: Address;
  owner: Address;
}

export interface LocalChain {
  info: ChainInfo;
  /** The settlement operator's key: for the gateway's secret binding and the Node job runner only. */
  operatorKey: Hex;
  clients: LocalClients;
  /** true when the contracts were deployed now (a new chain), false when a saved chain was resumed. */
  fresh: boolean;
  stop(): Promise<void>;
}

export async function startLocalChain(o: { stateDir: string; persistent: boolean }): Promise<LocalChain> {
  const dir = path.join(o.stateDir, "chain");
  mkdirSync(dir, { recursive: true });
  // A persistent network keeps its chain too (anvil dumps its state on exit and every 5 s).
  const anvil = await startAnvil(o.persistent ? { args: ["--state", path.join(dir, "anvil-state.json"), "--state-interval", "5"] } : {});
  try {
    const clients = await createLocalClients(anvil.rpcUrl);
    const saved = o.persistent ? await resume(path.join(dir, "deployment.json"), clients) : null;
    if (saved) return { info: saved, operatorKey: OPERATOR_KEY, clients, fresh: false, stop: anvil.stop };
    const operator = privateKeyToAccount(OPERATOR_KEY).address;
    const treasury = privateKeyToAccount(TREASURY_KEY).address;
    const d = await deployMeshgate({
      rpcUrl: anvil.rpcUrl,
      ownerKey: OWNER_KEY,
      operator,
      treasury,
      settlementPeriod: SETTLEMENT_PERIOD,
      disputeWindow: DISPUTE_WINDOW,
      withdrawalDelay: WITHDRAWAL_DELAY,
    });
    const info: ChainInfo = {
      rpcUrl: anvil.rpcUrl,
      chainId: d.chainId,
      usdc: d.usdc,
      settlement: d.settlement,
      deployBlock: d.deployBlock.toString(),
      operator,
      treasury,
      owner: privateKeyToAccount(OWNER_KEY).address,
    };
    const record: SavedDeployment = { ...info, identity: await markChain(clients, info) };
    writeFileSync(path.join(dir, "deployment.json"), JSON.stringify(record));
    return { info, operatorKey: OPERATOR_KEY, clients, fresh: true, stop: anvil.stop };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/**
 * What makes a local chain the one a deployment was made on. Not block 0's hash: anvil, started
 * from a state file, makes a new genesis block each time and serves one of them after a reload. Not
 * the chain id either (always 31337). The contracts' code at the saved addresses, and a random
 * marker written into the chain's state at deployment (the same deployer and nonces put the same
 * code at the same addresses on any new chain), both kept in anvil's state.
 */
export interface ChainIdentity {
  usdcCodeHash: Hex;
  settlementCodeHash: Hex;
  marker: Hex;
}

/** deployment.json: the chain's description plus its identity. */
export type SavedDeployment = ChainInfo & { identity?: ChainIdentity };

/** Where the marker lives: storage slot 0 of an address no key controls ("meshgate-local-chain" in ASCII). */
const MARKER_ADDRESS: Address = "0x6d657368676174652d6c6f63616c2d636861696e";

/** Writes a new random marker into the chain's state; returns the identity to save with the deployment. */
async function markChain(c: LocalClients, info: Pick<ChainInfo, "usdc" | "settlement">): Promise<ChainIdentity> {
  const marker = toHex(crypto.getRandomValues(new Uint8Array(32)));
  await c.testClient.setStorageAt({ address: MARKER_ADDRESS, index: 0, value: marker });
  const identity = await readIdentity(c, info);
  if (!identity || identity.marker !== marker) throw new Error("the local chain did not keep its deployment marker");
  return identity;
}

/** The identity of the chain behind `c` for a deployment at these addresses; null when a contract is missing. */
async function readIdentity(c: LocalClients, at: Pick<ChainInfo, "usdc" | "settlement">): Promise<ChainIdentity | null> {
  const [usdc, settlement, marker] = await Promise.all([
    c.publicClient.getCode({ address: at.usdc }),
    c.publicClient.getCode({ address: at.settlement }),
    c.publicClient.getStorageAt({ address: MARKER_ADDRESS, slot: toHex(0, { size: 32 }) }),
  ]);
  if (!usdc || usdc === "0x" || !settlement || settlement === "0x" || !marker) return null;
  return { usdcCodeHash: keccak256(usdc), settlementCodeHash: keccak256(settlement), marker };
}

/** Whether the chain behind `c` is the one `saved` was deployed on (a deployment saved without an identity never is). */
export async function sameChain(saved: SavedDeployment, c: LocalClients): Promise<boolean> {
  if (!saved.identity || saved.chainId !== c.chain.id) return false;
  const live = await readIdentity(c, saved);
  return (
    live !== null &&
    live.marker === saved.identity.marker &&
    live.usdcCodeHash === saved.identity.usdcCodeHash &&
    live.settlementCodeHash === saved.identity.settlementCodeHash
  );
}

/** The saved deployment, if this chain is the one it was made on. */
async function resume(file: string, clients: LocalClients): Promise<ChainInfo | null> {
  if (!existsSync(file)) return null;
  const saved = JSON.parse(readFileSync(file, "utf8")) as SavedDeployment;
  if (!(await sameChain(saved, clients))) return null;
  const { identity: _i, ...info } = saved;
  return { ...info, rpcUrl: clients.chain.rpcUrls.default.http[0]! };
}

/** Gas money and USDC for a wallet (a provider's, so that it can stake). */
export async function fundWallet(c: LocalClients, chain: ChainInfo, address: Address, usdcBase: bigint): Promise<void> {
  await c.testClient.setBalance({ address, value: 10n ** 19n });
  const owner = c.walletClient(OWNER_KEY);
  const hash = await owner.writeContract({ address: chain.usdc, abi: MockUSDC.abi, functionName: "mint", args: [address, usdcBase] });
  await c.publicClient.waitForTransactionReceipt({ hash });
}

/**
 * A real deposit for `account` (bytes32) from `fromKey`: USDC minted to the wallet, then one
 * `depositWithPermit` transaction, the way a customer's wallet funds an account on Base.
 */
export async function depositFor(
  c: LocalClients,
  chain: ChainInfo,
  fromKey: Hex,
  account: Hex,
  amountBase: bigint,
): Promise<{ txHash: Hex; blockNumber: bigint }> {
  const wallet = c.walletClient(fromKey);
  const from = wallet.account.address;
  const minted = await c
    .walletClient(OWNER_KEY)
    .writeContract({ address: chain.usdc, abi: MockUSDC.abi, functionName: "mint", args: [from, amountBase] });
  await c.publicClient.waitForTransactionReceipt({ hash: minted });
  const nonce = await c.publicClient.readContract({ address: chain.usdc, abi: MockUSDC.abi, functionName: "nonces", args: [from] });
  // From the chain's clock, which tests move forward with evm_increaseTime.
  const deadline = (await c.publicClient.getBlock()).timestamp + 3_600n;
  const signature = await wallet.signTypedData(
    usdcPermit({ chainId: chain.chainId, usdc: chain.usdc, owner: from, spender: chain.settlement, value: amountBase, nonce, deadline }),
  );
  const { v, yParity, r, s } = parseSignature(signature);
  const hash = await wallet.writeContract({
    address: chain.settlement,
    abi: Settlement.abi,
    functionName: "depositWithPermit",
    args: [account, amountBase, deadline, Number(v ?? BigInt(yParity) + 27n), r, s],
  });
  const receipt = await c.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`deposit ${hash} reverted`);
  return { txHash: hash, blockNumber: receipt.blockNumber };
}
