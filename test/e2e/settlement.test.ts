/**
 * Settlement on the local chain, end to end: deposits credited once, payouts equal to what the
 * ledger owes (remainders carried), nothing paid twice — also when the job is killed at each step
 * or its transaction reverts — and stake deciding who is routed to.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import type { Address } from "viem";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { LocalClients } from "../../chain/clients";
import { OWNER_KEY } from "../../chain/accounts";
import { MockUSDC, Settlement } from "../../contracts/generated/artifacts";
import { CUSTOMER_KEY, depositFor } from "../../scripts/lib/local-chain";
import { accountToBytes32 } from "../../workers/core/settlement/units";
import { privateKeyToAccount } from "viem/accounts";
import { verifyReceipt } from "../../provider-runtime/src/verify-receipt";
import { admin, byId, resetNetwork, sdk } from "../helpers/network-client";
import { chainOf, clientsFor, earningsOf, settledEvents, settleFromNode, usdcBalance, walletKeyOf } from "../helpers/chain";

const dev = inject("dev");
const chain = chainOf(dev);
const client = sdk(dev);
const run = promisify(execFile);
let c: LocalClients;
let db: pg.Client;

beforeAll(async () => {
  c = await clientsFor(dev);
  db = new pg.Client({ connectionString: dev.databaseUrl });
  await db.connect();
  await resetNetwork(dev);
});
afterAll(async () => { await db.end(); });

async function balance(account: string): Promise<bigint> {
  const { rows } = await db.query("select coalesce(sum(amount_pico), 0)::text as b from ledger_entries where account = $1", [account]);
  return BigInt((rows[0] as { b: string }).b);
}

/** Served requests, each with its usage event and receipt written (settlement reads both). */
async function traffic(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const ask = { model: dev.model, messages: [{ role: "user" as const, content: `settle me ${i}` }], max_tokens: 40 };
    if (i % 2 === 0) {
      ids.push((await client.chat.completions.create(ask).withResponse()).response.headers.get("x-request-id")!);
    } else {
      const { data, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
      for await (const _ of data) { /* drain */ }
      ids.push(response.headers.get("x-request-id")!);
    }
  }
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query(
      "select count(*)::int as n from usage_events u join receipts r using (request_id) where u.request_id = any($1)", [ids]);
    if ((rows[0] as { n: number }).n === ids.length) return ids;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("usage events and receipts were not written in time");
}

async function job(name: "deposits" | "settlement", query = ""): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await admin(dev, "POST", `/admin/v1/jobs/${name}/run${query}`);
  const json = (await res.json()) as { data: Record<string, unknown> };
  return { status: res.status, data: json.data ?? json };
}

async function ledgerCheck(): Promise<string> {
  const { stdout } = await run("npx", ["tsx", "scripts/ledger-check.ts", "--database-url", dev.databaseUrl], { timeout: 60_000 });
  return stdout;
}

interface Snapshot { providers: Map<string, { address: Address; ledger: bigint; earnings: bigint }>; fees: bigint; treasury: bigint; settled: number }

async function snapshot(): Promise<Snapshot> {
  const providers = new Map<string, { address: Address; ledger: bigint; earnings: bigint }>();
  for (const p of dev.providers) {
    const address = p.address as Address;
    providers.set(p.id, { address, ledger: await balance(`provider:${p.id}`), earnings: await earningsOf(c, dev, address) });
  }
  return { providers, fees: await balance("protocol:fees"), treasury: await usdcBalance(c, dev, chain.treasury), settled: (await settledEvents(c, dev)).length };
}

/** What a settlement of `before` must have done: each provider paid floor(ledger / 1e6), the rest carried. */
async function expectSettledExactly(before: Snapshot): Promise<void> {
  const after = await snapshot();
  for (const [id, b] of before.providers) {
    const a = after.providers.get(id)!;
    expect(a.earnings - b.earnings, `${id} paid on chain`).toBe(b.ledger / 1_000_000n);
    expect(a.ledger, `${id} carried on the ledger`).toBe(b.ledger % 1_000_000n);
  }
  expect(after.treasury - before.treasury, "fees to the treasury").toBe(before.fees / 1_000_000n);
  expect(after.fees).toBe(before.fees % 1_000_000n);
}

describe("deposits", () => {
  it("credit the account once, however often the job runs", async () => {
    const account = (await (await admin(dev, "POST", "/admin/v1/accounts", { name: "depositor" })).json()) as { id: string };
    await depositFor(c, chain, CUSTOMER_KEY, accountToBytes32(account.id), 25_000_000n);
    const first = await job("deposits");
    expect(first.status).toBe(200);
    expect(first.data.deposits).toBe(1);
    expect((await job("deposits")).data.deposits).toBe(0);
    const view = (await (await admin(dev, "GET", `/admin/v1/accounts/${account.id}`)).json()) as { balance_usdc: string };
    expect(view.balance_usdc).toBe("25");
    const { rows } = await db.query("select count(*)::int as n from deposits where account_id = $1", [account.id]);
    expect((rows[0] as { n: number }).n).toBe(1);
  });
});

describe("settlement", () => {
  it("pays every provider what the ledger owes in split batches, carries remainders, conserves every pico, and pays nothing more on a re-run", async () => {
    // Traffic for each of the three providers (the others suspended in turn), so that the period
    // pays three providers and the fee: two `settle` transactions at two payouts each.
    await traffic(2);
    await admin(dev, "POST", "/admin/v1/providers/sim-a/suspend");
    await new Promise((r) => setTimeout(r, 600));
    await traffic(2);
    await admin(dev, "POST", "/admin/v1/providers/sim-b/suspend");
    await new Promise((r) => setTimeout(r, 600));
    await traffic(2);
    await resetNetwork(dev);
    const before = await snapshot();
    const owed = [...before.providers.values()].reduce((s, p) => s + p.ledger / 1_000_000n, 0n);
    expect(owed).toBeGreaterThan(0n);

    const settled = await job("settlement");
    expect(settled.status).toBe(200);
    expect(settled.data.status).toBe("settled");
    expect(settled.data.opened).toBe(true);
    expect(before.providers.size).toBe(3);
    for (const [id, p] of before.providers) expect(p.ledger, `${id} has earned at least one base unit`).toBeGreaterThanOrEqual(1_000_000n);
    expect((settled.data.batches as unknown[]).length).toBe(2);
    await expectSettledExactly(before);

    // Customer charges = payouts + fees + what is still carried, to the pico.
    const { rows } = await db.query("select coalesce(-sum(amount_pico), 0)::text as charged from ledger_entries where kind in ('usage', 'adjustment') and account like 'customer:%'");
    let carried = 0n;
    for (const p of dev.providers) carried += await balance(`provider:${p.id}`);
    const paidOut = await balance("external:payouts");
    expect(BigInt((rows[0] as { charged: string }).charged)).toBe(paidOut + carried + (await balance("protocol:fees")));
    // And the ledger's payouts are what the chain's Settled events say.
    const onChain = (await settledEvents(c, dev)).reduce((s, e) => s + e.args.total!, 0n);
    expect(paidOut).toBe(onChain * 1_000_000n);

    // Providers pull their earnings: their USDC grows by exactly that.
    for (const p of dev.providers) {
      const address = p.address as Address;
      const earned = await earningsOf(c, dev, address);
      if (earned === 0n) continue;
      const held = await usdcBalance(c, dev, address);
      const hash = await c.walletClient(walletKeyOf(p)).writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "withdrawEarnings" });
      expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
      expect(await usdcBalance(c, dev, address)).toBe(held + earned);
    }

    const again = await job("settlement");
    expect(again.data.status).toBe("nothing_to_settle");
    expect((await settledEvents(c, dev)).length).toBe((await snapshot()).settled);
    expect(await ledgerCheck()).toContain("books balance");
  });

  for (const crashAt of ["recorded", "signed", "sent", "confirmed"] as const) {
    it(`killed after the batch is ${crashAt}: the restarted job pays exactly once`, async () => {
      await traffic(4);
      const before = await snapshot();
      const killed = await settleFromNode(dev, crashAt);
      expect(killed.signal).toBe("SIGKILL");
      const { rows } = await db.query("select b.id, b.status from settlement_batches b join settlement_periods p on p.id = b.period_id where p.status = 'open' order by b.part");
      const batches = rows as { id: `0x${string}`; status: string }[];
      expect(batches.length).toBeGreaterThanOrEqual(1);
      // The job died while on the first batch; any later batch is still only recorded.
      expect(batches.map((b) => b.status)).toEqual([crashAt === "recorded" ? "recorded" : "sending", ...batches.slice(1).map(() => "recorded")]);
      const onChainNow = await c.publicClient.readContract({ address: chain.settlement, abi: Settlement.abi, functionName: "isSettled", args: [batches[0]!.id] });
      expect(onChainNow).toBe(crashAt === "sent" || crashAt === "confirmed");
      // Untouched ledger until the restart.
      for (const [id, b] of before.providers) expect(await balance(`provider:${id}`)).toBe(b.ledger);

      const resumed = await job("settlement"); // the worker's code path: the cron would do the same
      expect(resumed.data.status).toBe("settled");
      expect(resumed.data.opened).toBe(false);
      await expectSettledExactly(before);
      const events = await settledEvents(c, dev);
      for (const b of batches) expect(events.filter((e) => e.args.batchId === b.id).length, `Settled events of ${b.id}`).toBe(1);
      expect((await job("settlement")).data.status).toBe("nothing_to_settle");
      expect(await ledgerCheck()).toContain("books balance");
    });
  }

  it("a reverted transaction leaves the batch retryable and the ledger untouched, then settles once", async () => {
    await traffic(4);
    const before = await snapshot();
    const owner = c.walletClient(OWNER_KEY);
    await c.testClient.setAutomine(false);
    let batchId: `0x${string}`;
    try {
      const sent = await job("settlement", "?wait_ms=0");
      expect(sent.data.status).toBe("pending");
      batchId = (sent.data.batches as { batchId: `0x${string}` }[])[0]!.batchId;
      // The owner pauses the contract with a higher tip: mined first, the settle reverts in the same block.
      await owner.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "pause", maxPriorityFeePerGas: 100_000_000_000n, maxFeePerGas: 200_000_000_000n });
      await c.testClient.mine({ blocks: 1 });
    } finally {
      await c.testClient.setAutomine(true);
    }
    try {
      const reverted = await job("settlement");
      expect(reverted.data.status).toBe("retryable");
      expect(JSON.stringify(reverted.data.batches)).toContain("reverted");
      for (const [id, b] of before.providers) expect(await balance(`provider:${id}`)).toBe(b.ledger);
      // Still paused: the job will not send a transaction that would revert.
      const blocked = await job("settlement");
      expect(blocked.data.status).toBe("retryable");
      expect(JSON.stringify(blocked.data.batches)).toContain("would revert");
    } finally {
      const hash = await owner.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "unpause" });
      await c.publicClient.waitForTransactionReceipt({ hash });
    }
    expect((await job("settlement")).data.status).toBe("settled");
    await expectSettledExactly(before);
    expect((await settledEvents(c, dev)).filter((e) => e.args.batchId === batchId).length).toBe(1);
  });
});

describe("receipt proofs", () => {
  it("a provider proves its settled receipt against the root on chain, by library and by command; no one else gets the proof", async () => {
    const ids = await traffic(2);
    expect((await job("settlement")).data.status).toBe("settled");
    const { rows } = await db.query("select request_id, provider_id from receipts where request_id = $1", [ids[0]]);
    const { request_id: requestId, provider_id: providerId } = rows[0] as { request_id: string; provider_id: string };
    const provider = byId(dev, providerId);
    const result = await verifyReceipt({ gatewayUrl: dev.gatewayURL, account: privateKeyToAccount(walletKeyOf(provider)), chainId: chain.chainId, rpcUrl: chain.rpcUrl, requestId });
    expect(result.ok).toBe(true);
    expect(result.checks).toEqual({ signature: true, leaf: true, proof: true, onChainRoot: true });
    const onChainRoot = await c.publicClient.readContract({ address: chain.settlement, abi: Settlement.abi, functionName: "batchRoots", args: [result.batchId as `0x${string}`] });
    expect(onChainRoot).toBe(result.root);

    const keyFile = provider.restart.args[provider.restart.args.indexOf("--wallet-key-file") + 1]!;
    const cli = await run(process.execPath, ["--import", "tsx", "provider-runtime/src/main.ts", "verify-receipt", "--gateway", dev.gatewayURL,
      "--wallet-key-file", keyFile, "--rpc-url", chain.rpcUrl, "--request-id", requestId], { timeout: 60_000 });
    expect(JSON.parse(cli.stdout.trim().split("\n").pop()!)).toMatchObject({ ok: true, requestId });

    const stranger = dev.providers.find((p) => p.id !== providerId)!;
    await expect(verifyReceipt({ gatewayUrl: dev.gatewayURL, account: privateKeyToAccount(walletKeyOf(stranger)), chainId: chain.chainId, rpcUrl: chain.rpcUrl, requestId }))
      .rejects.toMatchObject({ status: 404 });
  });
});

describe("withdrawals", () => {
  it("a requested withdrawal is held off the spendable balance at once and limited on chain to what was unspent", async () => {
    const account = (await (await admin(dev, "POST", "/admin/v1/accounts", { name: "withdrawer" })).json()) as { id: string };
    const key = (await (await admin(dev, "POST", "/admin/v1/keys", { account_id: account.id, name: "w", role: "inference" })).json()) as { secret: string };
    const bytes32 = accountToBytes32(account.id);
    await depositFor(c, chain, CUSTOMER_KEY, bytes32, 2_000_000n);
    await job("deposits");
    const spender = sdk(dev, key.secret);
    await spender.chat.completions.create({ model: dev.model, messages: [{ role: "user", content: "spend a little" }], max_tokens: 20 });
    for (let i = 0; i < 50 && (await balance(`customer:${account.id}`)) === 2_000_000n * 1_000_000n; i++) await new Promise((r) => setTimeout(r, 100));
    const unspent = await balance(`customer:${account.id}`);
    expect(unspent).toBeLessThan(2_000_000n * 1_000_000n);

    // The customer asks for all it deposited; the ledger can hold only what is unspent.
    const customer = c.walletClient(CUSTOMER_KEY);
    const wait = async (hash: `0x${string}`) => expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await wait(await customer.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "requestWithdrawal", args: [bytes32, 2_000_000n] }));
    expect((await job("deposits")).data.withdrawals).toBe(1);
    const held = unspent / 1_000_000n;
    expect(await balance(`customer:${account.id}`)).toBe(unspent - held * 1_000_000n);
    // Spending stops at once: what is left is less than one request's reservation.
    await expect(spender.chat.completions.create({ model: dev.model, messages: [{ role: "user", content: "more" }], max_tokens: 20 })).rejects.toMatchObject({ status: 402 });

    // The settlement job lowers the on-chain withdrawal to the hold, within the dispute window.
    expect((await job("settlement")).data.withdrawalsLimited).toBe(1);
    const [amount] = await c.publicClient.readContract({ address: chain.settlement, abi: Settlement.abi, functionName: "pendingWithdrawals", args: [bytes32] });
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
    await wait(await customer.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "requestWithdrawal", args: [bytes32, 1_000_000n] }));
    expect((await job("deposits")).data.withdrawals).toBe(1);
    expect(await balance(`customer:${account.id}`)).toBe(2_000_000n * 1_000_000n);
    await wait(await customer.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "cancelWithdrawal", args: [bytes32] }));
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
      const { response } = await client.chat.completions.create({ model: dev.model, messages: [{ role: "user", content: "who" }], max_tokens: 2 }).withResponse();
      return response.headers.get("x-meshgate-provider");
    };
    await new Promise((r) => setTimeout(r, 600)); // the route table's cache (ROUTE_CACHE_MS 500 in e2e)
    // Whoever routing prefers now (the cheapest live provider; an earlier file may have killed sim-a).
    const preferred = (await servedBy())!;
    const cheapest = byId(dev, preferred);
    const wallet = c.walletClient(walletKeyOf(cheapest));
    const staked = await c.publicClient.readContract({ address: chain.settlement, abi: Settlement.abi, functionName: "stakeOf", args: [cheapest.address as Address] });
    expect(staked).toBeGreaterThan(0n);
    const wait = async (hash: `0x${string}`) => expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await wait(await wallet.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "requestUnstake", args: [staked] }));
    await job("deposits");
    await new Promise((r) => setTimeout(r, 600));
    for (let i = 0; i < 3; i++) expect(await servedBy()).not.toBe(preferred);

    await wait(await wallet.writeContract({ address: chain.usdc, abi: MockUSDC.abi, functionName: "approve", args: [chain.settlement, staked] }));
    await wait(await wallet.writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "stake", args: [staked] }));
    await job("deposits");
    await new Promise((r) => setTimeout(r, 600));
    expect(await servedBy()).toBe(preferred);
  });
});
