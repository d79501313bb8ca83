/**
 * Money is conserved over random sequences of deposits, settlements, withdrawals, stakes and slashes:
 *   usdc.balanceOf(settlement) == escrow + Σ earnings + Σ (stake + unstaking)
 *   Σ deposited == Σ payouts + Σ fees + escrow + Σ withdrawn
 * The flows on the right of the second line are tracked here from what was sent and from balances,
 * not from the contract's own bookkeeping.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { account, attempt, DELAY, fund, mined, now, settlementAs, USDC, usdcAs, useChain, warpTo, type Chain } from "../support/contracts";

const chain = useChain();
const ACCOUNTS = [account("c0"), account("c1"), account("c2")] as const;
const per = fc.integer({ min: 0, max: 1000 }); // a fraction, per mille
const customer = fc.integer({ min: 0, max: 2 });
const provider = fc.integer({ min: 0, max: 2 });

const command = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("deposit" as const),
      who: customer,
      acct: customer,
      amount: fc.integer({ min: 1, max: 1_000_000_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("settle" as const), shares: fc.array(per, { minLength: 0, maxLength: 3 }), fee: per }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("request" as const), acct: customer, part: per }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("limit" as const), acct: customer, part: per }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("warp" as const), seconds: fc.integer({ min: 1, max: 2 * Number(DELAY) }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), acct: customer, wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("earnings" as const), who: provider }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("stake" as const), who: provider, amount: fc.integer({ min: 1, max: 100_000_000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unstake" as const), who: provider, part: per }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("withdrawStake" as const), who: provider }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("slash" as const), who: provider, part: per }) },
);
/** Each customer opens their own account, so that later withdrawals have something to act on. */
const prelude = fc.tuple(
  ...[0, 1, 2].map((i) =>
    fc.record({
      kind: fc.constant("deposit" as const),
      who: fc.constant(i),
      acct: fc.constant(i),
      amount: fc.integer({ min: 1, max: 1_000_000_000 }),
    }),
  ),
);
type Command = typeof command extends fc.Arbitrary<infer T> ? T : never;

interface Flows {
  deposited: bigint;
  paidOut: bigint;
  fees: bigint;
  withdrawn: bigint;
  settled: number;
  withdrawals: number;
}

const part = (amount: bigint, perMille: number) => (amount * BigInt(perMille)) / 1000n;

async function run(c: Chain, cmd: Command, flows: Flows, batch: number): Promise<void> {
  const customers = c.users.slice(0, 3);
  const providers = c.users.slice(3, 6);
  const op = settlementAs(c, c.operator);
  switch (cmd.kind) {
    case "deposit": {
      const amount = BigInt(cmd.amount);
      if (await attempt(c, () => settlementAs(c, customers[cmd.who]!).write.deposit([ACCOUNTS[cmd.acct]!, amount])))
        flows.deposited += amount;
      return;
    }
    case "settle": {
      const escrow = await op.read.escrow();
      const amounts = cmd.shares.map((s) => part(escrow, s) / 4n);
      const fee = part(escrow, cmd.fee) / 8n;
      const to = amounts.map((_, i) => providers[i]!.account.address);
      if (await attempt(c, () => op.write.settle([account(`batch-${batch}`), account("root"), to, amounts, fee]))) {
        flows.paidOut += amounts.reduce((a, b) => a + b, 0n);
        flows.fees += fee;
        flows.settled += 1;
      }
      return;
    }
    case "request":
    case "limit":
    case "withdraw": {
      // limit and withdraw aim at a pending withdrawal if there is one (the first from cmd.acct on).
      let acct = ACCOUNTS[cmd.acct]!;
      if (cmd.kind !== "request") {
        const rotation = [0, 1, 2].map((i) => ACCOUNTS[(cmd.acct + i) % 3]!);
        const pending = await Promise.all(rotation.map((a) => op.read.pendingWithdrawals([a])));
        acct = rotation[pending.findIndex(([, availableAt]) => availableAt !== 0n)] ?? acct;
      }
      const ownerAddress = await op.read.accountOwner([acct]);
      const owner = customers.find((w) => w.account.address === ownerAddress);
      if (!owner) return; // no deposit yet
      const s = settlementAs(c, owner);
      if (cmd.kind === "request")
        await attempt(c, async () => s.write.requestWithdrawal([acct, part(await s.read.accountDeposits([acct]), cmd.part)]));
      if (cmd.kind === "limit")
        await attempt(c, async () => op.write.limitWithdrawal([acct, part((await s.read.pendingWithdrawals([acct]))[0], cmd.part)]));
      if (cmd.kind === "withdraw") {
        const [, availableAt] = await s.read.pendingWithdrawals([acct]);
        if (cmd.wait && availableAt > (await now(c))) await warpTo(c, availableAt);
        const before = await usdcAs(c, owner).read.balanceOf([owner.account.address]);
        if (await attempt(c, () => s.write.withdraw([acct]))) {
          flows.withdrawn += (await usdcAs(c, owner).read.balanceOf([owner.account.address])) - before;
          flows.withdrawals += 1;
        }
      }
      return;
    }
    case "warp":
      return warpTo(c, (await now(c)) + BigInt(cmd.seconds));
    case "earnings":
      return void (await attempt(c, () => settlementAs(c, providers[cmd.who]!).write.withdrawEarnings()));
    case "stake":
      return void (await attempt(c, () => settlementAs(c, providers[cmd.who]!).write.stake([BigInt(cmd.amount)])));
    case "unstake": {
      const s = settlementAs(c, providers[cmd.who]!);
      return void (await attempt(c, async () =>
        s.write.requestUnstake([part(await s.read.stakeOf([providers[cmd.who]!.account.address]), cmd.part)]),
      ));
    }
    case "withdrawStake":
      return void (await attempt(c, () => settlementAs(c, providers[cmd.who]!).write.withdrawStake()));
    case "slash": {
      const p = providers[cmd.who]!.account.address;
      const [amount, unstaking] = await op.read.stakes([p]);
      return void (await attempt(c, () => op.write.slash([p, part(amount + unstaking, cmd.part), account("evidence")])));
    }
  }
}

async function expectConserved(c: Chain, flows: Flows): Promise<void> {
  const s = settlementAs(c, c.owner);
  const providers = c.users.slice(3, 6).map((w) => w.account.address);
  const [balance, escrow, earnings, stakes] = await Promise.all([
    usdcAs(c, c.owner).read.balanceOf([c.deployment.settlement]),
    s.read.escrow(),
    Promise.all(providers.map((p) => s.read.earnings([p]))),
    Promise.all(providers.map((p) => s.read.stakes([p]))),
  ]);
  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  expect(balance).toBe(escrow + sum(earnings) + sum(stakes.map(([amount, unstaking]) => amount + unstaking)));
  expect(flows.deposited).toBe(flows.paidOut + flows.fees + escrow + flows.withdrawn);
}

describe("conservation", () => {
  beforeAll(async () => {
    const c = chain();
    for (const w of c.users.slice(0, 6)) await fund(c, w, USDC(1_000_000));
  });

  it("holds over random sequences of operations", { timeout: 60_000 }, async () => {
    const c = chain();
    const totals = { settled: 0, withdrawals: 0 };
    await fc.assert(
      fc.asyncProperty(prelude, fc.array(command, { minLength: 4, maxLength: 20 }), async (opening, commands) => {
        const snapshot = await c.testClient.snapshot();
        try {
          const flows: Flows = { deposited: 0n, paidOut: 0n, fees: 0n, withdrawn: 0n, settled: 0, withdrawals: 0 };
          for (const [i, cmd] of [...opening, ...commands].entries()) {
            await run(c, cmd, flows, i);
            await expectConserved(c, flows);
          }
          totals.settled += flows.settled;
          totals.withdrawals += flows.withdrawals;
        } finally {
          await c.testClient.revert({ id: snapshot });
        }
      }),
      { numRuns: 15, seed: 20260426 },
    );
    // The sequences did exercise the money paths, not only reverts.
    expect(totals.settled).toBeGreaterThan(0);
    expect(totals.withdrawals).toBeGreaterThan(0);
  });
});
