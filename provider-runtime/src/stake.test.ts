import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEther, parseUnits, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devAccount, OWNER_KEY } from "../../chain/accounts";
import { startAnvil, type Anvil } from "../../chain/anvil";
import { createLocalClients, type LocalClients } from "../../chain/clients";
import { deployMeshgate, type MeshgateDeployment } from "../../chain/deploy";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import { startAgent } from "./agent";
import { readConfig } from "./config";
import { FakeGateway } from "./fake-gateway";
import { ensureStake, StakeError } from "./stake";

const USDC = (n: number) => parseUnits(String(n), 6);
const MIN = USDC(100);

let anvil: Anvil;
let clients: LocalClients;
let deployment: MeshgateDeployment;

beforeAll(async () => {
  anvil = await startAnvil();
  clients = await createLocalClients(anvil.rpcUrl);
  deployment = await deployMeshgate({
    rpcUrl: anvil.rpcUrl,
    ownerKey: OWNER_KEY,
    operator: devAccount(1).address,
    treasury: devAccount(2).address,
    settlementPeriod: 3600,
    disputeWindow: 3600,
    withdrawalDelay: 7201,
  });
}, 30_000);
afterAll(() => anvil?.stop());

/** A fresh wallet with `eth` ETH and `usdc` USDC (base units). */
async function wallet(usdc: bigint, eth = parseEther("1")) {
  const account = privateKeyToAccount(generatePrivateKey());
  await clients.testClient.setBalance({ address: account.address, value: eth });
  if (usdc > 0n) {
    const owner = clients.walletClient(OWNER_KEY);
    const hash = await owner.writeContract({
      address: deployment.usdc,
      abi: MockUSDC.abi,
      functionName: "mint",
      args: [account.address, usdc],
    });
    await clients.publicClient.waitForTransactionReceipt({ hash });
  }
  return account;
}

const stakeOf = (address: Hex) =>
  clients.publicClient.readContract({ address: deployment.settlement, abi: Settlement.abi, functionName: "stakeOf", args: [address] });
const usdcOf = (address: Hex) =>
  clients.publicClient.readContract({ address: deployment.usdc, abi: MockUSDC.abi, functionName: "balanceOf", args: [address] });
const nonceOf = (address: Hex) => clients.publicClient.getTransactionCount({ address });

function options(account: ReturnType<typeof privateKeyToAccount>, log: string[] = []) {
  return {
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    account,
    settlement: deployment.settlement,
    usdc: deployment.usdc,
    minStakeBase: MIN,
    log: (line: string) => void log.push(line),
  };
}

describe("ensureStake", () => {
  it("below the minimum: approves and stakes exactly the shortfall", async () => {
    const account = await wallet(USDC(250));
    // A stake of 30 from an earlier run: only 70 more is needed.
    const owner = clients.walletClient(account);
    await clients.publicClient.waitForTransactionReceipt({
      hash: await owner.writeContract({
        address: deployment.usdc,
        abi: MockUSDC.abi,
        functionName: "approve",
        args: [deployment.settlement, USDC(30)],
      }),
    });
    await clients.publicClient.waitForTransactionReceipt({
      hash: await owner.writeContract({ address: deployment.settlement, abi: Settlement.abi, functionName: "stake", args: [USDC(30)] }),
    });

    const log: string[] = [];
    const result = await ensureStake(options(account, log));
    expect(result).toMatchObject({ before: USDC(30), after: MIN, staked: USDC(70) });
    expect(await stakeOf(account.address)).toBe(MIN);
    expect(await usdcOf(account.address)).toBe(USDC(150));
    const allowance = await clients.publicClient.readContract({
      address: deployment.usdc,
      abi: MockUSDC.abi,
      functionName: "allowance",
      args: [account.address, deployment.settlement],
    });
    expect(allowance).toBe(0n); // nothing left approved beyond what was staked
    expect(log).toHaveLength(1);
    expect(log[0]).toContain("30 USDC → 100 USDC");
  });

  it("at the minimum already: sends no transaction", async () => {
    const account = await wallet(USDC(100));
    await ensureStake(options(account));
    const nonce = await nonceOf(account.address);
    const log: string[] = [];
    expect(await ensureStake(options(account, log))).toEqual({ before: MIN, after: MIN, staked: 0n, txHash: null });
    expect(await nonceOf(account.address)).toBe(nonce);
    expect(log).toEqual([expect.stringContaining("nothing to stake")]);
  });

  it("without enough USDC: a clear error and nothing staked", async () => {
    const account = await wallet(USDC(12));
    const err = await ensureStake(options(account)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StakeError);
    expect((err as Error).message).toBe(
      `wallet ${account.address} holds 12 USDC, needs 100 USDC to stake (minimum 100 USDC, staked 0 USDC)`,
    );
    expect(await stakeOf(account.address)).toBe(0n);
    expect(await nonceOf(account.address)).toBe(0);
  });

  it("without ETH for gas: a clear error and nothing staked", async () => {
    const account = await wallet(USDC(100), 0n);
    await expect(ensureStake(options(account))).rejects.toThrow(
      `wallet ${account.address} holds no ETH on chain ${anvil.chainId} to pay gas for staking`,
    );
    expect(await stakeOf(account.address)).toBe(0n);
  });

  it("with too little ETH for gas: a clear error from the node's refusal", async () => {
    const account = await wallet(USDC(100), 1n);
    await expect(ensureStake(options(account))).rejects.toThrow(
      `wallet ${account.address} holds 0.000000000000000001 ETH on chain ${anvil.chainId}, not enough gas to stake`,
    );
    expect(await stakeOf(account.address)).toBe(0n);
  });

  it("refuses an RPC on another chain", async () => {
    const account = await wallet(USDC(100));
    await expect(ensureStake({ ...options(account), chainId: 8453 })).rejects.toThrow(
      `is on chain ${anvil.chainId}, the gateway on chain 8453`,
    );
  });
});

describe("the agent", () => {
  it("reads --rpc-url or MESHGATE_RPC_URL, an http(s) URL", () => {
    const base = ["--gateway", "http://g", "--model", "m", "--price-in", "0.1", "--price-out", "0.2", "--wallet-key", generatePrivateKey()];
    expect(readConfig(base, {}).rpcUrl).toBeUndefined();
    expect(readConfig(base, { MESHGATE_RPC_URL: "https://l2.example/v2/k" }).rpcUrl).toBe("https://l2.example/v2/k");
    expect(() => readConfig([...base, "--rpc-url", "ws://l2.example"], {})).toThrow("--rpc-url (MESHGATE_RPC_URL): must be an http(s) URL");
  });

  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  async function run(gw: FakeGateway, key: Hex, extra: string[]) {
    const dir = mkdtempSync(join(tmpdir(), "meshgate-stake-"));
    dirs.push(dir);
    const cfg = readConfig(
      [
        "--gateway",
        gw.url,
        "--engine",
        "sim",
        "--model",
        "m",
        "--price-in",
        "0.1",
        "--price-out",
        "0.2",
        "--port",
        "0",
        "--wallet-key",
        key,
        "--chain-id",
        String(anvil.chainId),
        "--outbox-dir",
        dir,
        ...extra,
      ],
      {},
    );
    const log: string[] = [];
    const agent = await startAgent(cfg, { log: (l) => void log.push(l) });
    await agent.shutdown();
    return log;
  }

  it("stakes the gateway's minimum before registering", async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    await clients.testClient.setBalance({ address: account.address, value: parseEther("1") });
    await clients.publicClient.waitForTransactionReceipt({
      hash: await clients
        .walletClient(OWNER_KEY)
        .writeContract({ address: deployment.usdc, abi: MockUSDC.abi, functionName: "mint", args: [account.address, MIN] }),
    });
    const gw = await new FakeGateway({ chainId: anvil.chainId }).start();
    gw.chain = { settlement: deployment.settlement, usdc: deployment.usdc, min_stake_base: MIN.toString() };
    try {
      const log = await run(gw, key, ["--rpc-url", anvil.rpcUrl]);
      expect(await stakeOf(account.address)).toBe(MIN);
      const staked = log.findIndex((l) => l.startsWith("staked 100 USDC"));
      expect(staked).toBeGreaterThanOrEqual(0);
      expect(staked).toBeLessThan(log.findIndex((l) => l.startsWith("registered as")));
    } finally {
      await gw.close();
    }
  });

  it("without --rpc-url, warns that it will not be routed to and still registers", async () => {
    const gw = await new FakeGateway({ chainId: anvil.chainId }).start();
    gw.chain = { settlement: deployment.settlement, usdc: deployment.usdc, min_stake_base: MIN.toString() };
    try {
      const log = await run(gw, generatePrivateKey(), []);
      expect(log).toContainEqual(expect.stringMatching(/^warning: the gateway requires a stake of 100 USDC .* will not be routed to/));
      expect(gw.registers).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });
});
