/**
 * What settlement leaves for its parties to claim, end to end: a provider proves its receipt against
 * the root on chain; a customer's withdrawal is held and limited to what was unspent, or cancelled;
 * a provider's stake decides whether it is routed to.
 */
import pg from "pg";
import type { Address } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import type { LocalClients } from "../../chain/clients";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import { CUSTOMER_KEY, depositFor } from "../../scripts/lib/local-chain";
import { accountToBytes32 } from "../../workers/core/settlement/units";
import { privateKeyToAccount } from "viem/accounts";
import { verifyReceipt } from "../../provider-runtime/src/verify-receipt";
import { admin, byId, resetNetwork, sdk } from "../support/network-client";
import { usdcBalance, walletKeyOf } from "../support/chain";
import { run, useSettlementWorld } from "../support/settlement";

const world = useSettlementWorld();
const { dev, chain, client, balance, traffic, job, ledgerCheck } = world;
let c: LocalClients;
let db: pg.Client;
beforeAll(() => ({ c, db } = world.handles()));

describe("receipt proofs", () => {
  it("a provider proves its settled receipt against the root on chain, by library and by command; no one else gets the proof", async () => {
    const ids = await traffic(2);
    expect((await job("settlement")).data.status).toBe("settled");
    const { rows } = await db.query("select request_id, provider_id from receipts where request_id = $1", [ids[0]]);
    const { request_id: requestId, provider_id: providerId } = rows[0] as { request_id: string; provider_id: string };
    const provider = byId(dev, providerId);
    const result = await verifyReceipt({
      gatewayUrl: dev.gatewayURL,
      account: privateKeyToAccount(walletKeyOf(provider)),
      chainId: chain.chainId,
      rpcUrl: chain.rpcUrl,
      requestId,
    });
    expect(result.ok).toBe(true);
    expect(result.checks).toEqual({ signature: true, leaf: true, proof: true, onChainRoot: true });
    const onChainRoot = await c.publicClient.readContract({
      address: chain.settlement,
      abi: Settlement.abi,
      functionName: "batchRoots",
      args: [result.batchId as `0x${string}`],
    });
    expect(onChainRoot).toBe(result.root);

    const keyFile = provider.restart.args[provider.restart.args.indexOf("--wallet-key-file") + 1]!;
    const cli = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "provider-runtime/src/main.ts",
        "verify-receipt",
        "--gateway",
        dev.gatewayURL,
        "--wallet-key-file",
        keyFile,
        "--rpc-url",
        chain.rpcUrl,
        "--request-id",
        requestId,
      ],
      { timeout: 60_000 },
    );
    expect(JSON.parse(cli.stdout.trim().split("\n").pop()!)).toMatchObject({ ok: true, requestId });

    const stranger = dev.providers.find((p) => p.id !== providerId)!;
    await expect(
      verifyReceipt({
        gatewayUrl: dev.gatewayURL,
        account: privateKeyToAccount(walletKeyOf(stranger)),
        chainId: chain.chainId,
        rpcUrl: chain.rpcUrl,
        requestId,
      }),
    ).rejects.toMatchObject({ status: 404 });
  });
});

describe("withdrawals", () => {
  it("a requested withdrawal is held off the spendable balance at once and limited on chain to what was unspent", async () => {
    const account = (await (await admin(dev, "POST", "/admin/v1/accounts", { name: "withdrawer" })).json()) as { id: string };
    const key = (await (await admin(dev, "POST", "/admin/v1/keys", { account_id: account.id, name: "w", role: "inference" })).json()) as {
      secret: string;
    };
    const bytes32 = accountToBytes32(account.id);
    await depositFor(c, chain, CUSTOMER_KEY, bytes32, 2_000_000n);
    await job("deposits");
    const spender = sdk(dev, key.secret);
    await spender.chat.completions.create({ model: dev.model, messages: [{ role: "user", content: "spend a little" }], max_tokens: 20 });
    for (let i = 0; i < 50 && (await balance(`customer:${account.id}`)) === 2_000_000n * 1_000_000n; i++)
      await new Promise((r) => setTimeout(r, 100));
    const unspent = await balance(`customer:${account.id}`);
    expect(unspent).toBeLessThan(2_000_000n * 1_000_000n);

    // The customer asks for all it deposited; the ledger can hold only what is unspent.
    const customer = c.walletClient(CUSTOMER_KEY);
    const wait = async (hash: `0x${string}`) => expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await wait(
      await customer.writeContract({
        address: chain.settlement,
        abi: Settlement.abi,
        functionName: "requestWithdrawal",
        args: [bytes32, 2_000_000n],
      }),
    );
    expect((await job("deposits")).data.withdrawals).toBe(1);
    const held = unspent / 1_000_000n;
    expect(await balance(`customer:${account.id}`)).toBe(unspent - held * 1_000_000n);
    // Spending stops at once: what is left is less than one request's reservation.
    await expect(
      spender.chat.completions.create({ model: dev.model, messages: [{ role: "user", content: "more" }], max_tokens: 20 }),
    ).rejects.toMatchObject({ status: 402 });

    // The settlement job lowers the on-chain withdrawal to the hold, within the dispute window.
    expect((await job("settlement")).data.withdrawalsLimited).toBe(1);
    const [amount] = await c.publicClient.readContract({
      address: chain.settlement,
      abi: Settlement.abi,
      functionName: "pendingWithdrawals",
      args: [bytes32],
    });
    expect(amount).toBe(held);

    // After the delay the customer gets exactly what was held.
    const delay = await c.publicClient.readContract({ address: chain.settlement, abi: Settlement.abi, functionName: "withdrawalDelay" });
    await c.testClient.increaseTime({ seconds: Number(delay) + 1 });
    await c.testClient.mine({ blocks: 1 });
    const before = await usdcBalance(c, dev, customer.account.address);
    await wait(await customer.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "withdraw", args: [bytes32] }));
    expect(await usdcBalance(c, dev, customer.account.address)).toBe(before + held);
    await job("deposits");
    const { rows } = await db.query("select status, paid_base::text as paid from withdrawals where account_id = $1", [account.id]);
    expect(rows).toEqual([{ status: "withdrawn", paid: held.toString() }]);
    expect(await ledgerCheck()).toContain("books balance");
  });

  it("a cancelled withdrawal gives the hold back to the spendable balance", async () => {
    const account = (await (await admin(dev, "POST", "/admin/v1/accounts", { name: "changed my mind" })).json()) as { id: string };
    const bytes32 = accountToBytes32(account.id);
    await depositFor(c, chain, CUSTOMER_KEY, bytes32, 3_000_000n);
    await job("deposits");
    const customer = c.walletClient(CUSTOMER_KEY);
    const wait = async (hash: `0x${string}`) => expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await wait(
      await customer.writeContract({
        address: chain.settlement,
        abi: Settlement.abi,
        functionName: "requestWithdrawal",
        args: [bytes32, 1_000_000n],
      }),
    );
    expect((await job("deposits")).data.withdrawals).toBe(1);
    expect(await balance(`customer:${account.id}`)).toBe(2_000_000n * 1_000_000n);
    await wait(
      await customer.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "cancelWithdrawal", args: [bytes32] }),
    );
    expect((await job("deposits")).data.released).toBe(1);
    expect((await job("deposits")).data.released).toBe(0);
    expect(await balance(`customer:${account.id}`)).toBe(3_000_000n * 1_000_000n);
    const view = (await (await admin(dev, "GET", `/admin/v1/accounts/${account.id}`)).json()) as { balance_usdc: string };
    expect(view.balance_usdc).toBe("3");
    expect(await ledgerCheck()).toContain("books balance");
  });
});

describe("stake", () => {
  it("a provider below the minimum stake is not routed to until it stakes again", async () => {
    await resetNetwork(dev);
    const servedBy = async () => {
      const { response } = await client.chat.completions
        .create({ model: dev.model, messages: [{ role: "user", content: "who" }], max_tokens: 2 })
        .withResponse();
      return response.headers.get("x-meshgate-provider");
    };
    await new Promise((r) => setTimeout(r, 600)); // the route table's cache (ROUTE_CACHE_MS 500 in e2e)
    // Whoever routing prefers now (the cheapest live provider; an earlier file may have killed sim-a).
    const preferred = (await servedBy())!;
    const cheapest = byId(dev, preferred);
    const wallet = c.walletClient(walletKeyOf(cheapest));
    const staked = await c.publicClient.readContract({
      address: chain.settlement,
      abi: Settlement.abi,
      functionName: "stakeOf",
      args: [cheapest.address as Address],
    });
    expect(staked).toBeGreaterThan(0n);
    const wait = async (hash: `0x${string}`) => expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await wait(
      await wallet.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "requestUnstake", args: [staked] }),
    );
    await job("deposits");
    await new Promise((r) => setTimeout(r, 600));
    for (let i = 0; i < 3; i++) expect(await servedBy()).not.toBe(preferred);

    await wait(
      await wallet.writeContract({ address: chain.usdc, abi: MockUSDC.abi, functionName: "approve", args: [chain.settlement, staked] }),
    );
    await wait(await wallet.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "stake", args: [staked] }));
    await job("deposits");
    await new Promise((r) => setTimeout(r, 600));
    expect(await servedBy()).toBe(preferred);
  });
});
