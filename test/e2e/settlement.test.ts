/**
 * Settlement on the local chain, end to end: deposits credited once, payouts equal to what the
 * ledger owes (remainders carried), nothing paid twice — also when the job is killed at each step
 * or its transaction reverts. (Proofs, withdrawals and stake: settlement-claims.test.ts.)
 */
import pg from "pg";
import type { Address } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import type { LocalClients } from "../../chain/clients";
import { OWNER_KEY } from "../../chain/accounts";
import { Settlement } from "../../contracts/generated/artifacts";
import { CUSTOMER_KEY, depositFor } from "../../scripts/lib/local-chain";
import { accountToBytes32 } from "../../workers/core/settlement/units";
import { admin, resetNetwork } from "../support/network-client";
import { earningsOf, settledEvents, settleFromNode, usdcBalance, walletKeyOf } from "../support/chain";
import { useSettlementWorld } from "../support/settlement";

const world = useSettlementWorld();
const { dev, chain, balance, traffic, job, ledgerCheck, snapshot, expectSettledExactly } = world;
let c: LocalClients;
let db: pg.Client;
beforeAll(() => ({ c, db } = world.handles()));

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
    const { rows } = await db.query(
      "select coalesce(-sum(amount_pico), 0)::text as charged from ledger_entries where kind in ('usage', 'adjustment') and account like 'customer:%'",
    );
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
      const hash = await c
        .walletClient(walletKeyOf(p))
        .writeContract({ address: chain.settlement, abi: Settlement.abi, functionName: "withdrawEarnings" });
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
      const { rows } = await db.query(
        "select b.id, b.status from settlement_batches b join settlement_periods p on p.id = b.period_id where p.status = 'open' order by b.part",
      );
      const batches = rows as { id: `0x${string}`; status: string }[];
      expect(batches.length).toBeGreaterThanOrEqual(1);
      // The job died while on the first batch; any later batch is still only recorded.
      expect(batches.map((b) => b.status)).toEqual([
        crashAt === "recorded" ? "recorded" : "sending",
        ...batches.slice(1).map(() => "recorded"),
      ]);
      const onChainNow = await c.publicClient.readContract({
        address: chain.settlement,
        abi: Settlement.abi,
        functionName: "isSettled",
        args: [batches[0]!.id],
      });
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
      await owner.writeContract({
        address: chain.settlement,
        abi: Settlement.abi,
        functionName: "pause",
        maxPriorityFeePerGas: 100_000_000_000n,
        maxFeePerGas: 200_000_000_000n,
      });
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
