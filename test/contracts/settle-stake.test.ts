/** Settlement's provider stake: staking, the unstaking delay, and slashing by the operator. */
import { describe, expect, it } from "vitest";
import { zeroHash } from "viem";
import { Settlement } from "../../contracts/generated/artifacts";
import {
  account,
  DELAY,
  expectRevert,
  fund,
  mined,
  now,
  settlementAs,
  settlementEvents,
  USDC,
  useChain,
  warpTo,
  type Chain,
} from "../support/contracts";
import { balance } from "../support/contracts-settle";

const chain = useChain();

describe("stake", () => {
  it("stake adds to the active stake; stakeOf excludes what is unstaking", async () => {
    const c = chain();
    const [p] = c.users;
    await fund(c, p, USDC(100));
    const s = settlementAs(c, p);
    await mined(c, s.write.stake([USDC(60)]));
    const staked = await mined(c, s.write.stake([USDC(40)]));
    expect(settlementEvents(c, staked)).toEqual([
      { eventName: "Staked", args: { provider: p.account.address, amount: USDC(40), total: USDC(100) } },
    ]);
    expect(await s.read.stakeOf([p.account.address])).toBe(USDC(100));
    await mined(c, s.write.requestUnstake([USDC(30)]));
    expect(await s.read.stakeOf([p.account.address])).toBe(USDC(70));
    const [amount, unstaking] = await s.read.stakes([p.account.address]);
    expect({ amount, unstaking }).toEqual({ amount: USDC(70), unstaking: USDC(30) });
    await expectRevert(s.write.stake([0n]), "ZeroAmount");
    await expectRevert(s.write.requestUnstake([USDC(71)]), "InsufficientStake", [USDC(71), USDC(70)]);
    await expectRevert(s.write.requestUnstake([0n]), "ZeroAmount");
  });

  it("unstaking waits the withdrawal delay; a new request adds and restarts the clock", async () => {
    const c = chain();
    const [p] = c.users;
    await fund(c, p, USDC(100));
    const s = settlementAs(c, p);
    await mined(c, s.write.stake([USDC(100)]));
    await expectRevert(s.write.withdrawStake(), "NothingToWithdraw");
    const requested = await mined(c, s.write.requestUnstake([USDC(10)]));
    const [, , first] = await s.read.stakes([p.account.address]);
    expect(settlementEvents(c, requested)).toEqual([
      { eventName: "UnstakeRequested", args: { provider: p.account.address, amount: USDC(10), availableAt: first } },
    ]);
    await warpTo(c, first - 100n);
    const receipt = await mined(c, s.write.requestUnstake([USDC(5)]));
    const requestedAt = (await c.publicClient.getBlock({ blockHash: receipt.blockHash })).timestamp;
    const [, unstaking, second] = await s.read.stakes([p.account.address]);
    expect(unstaking).toBe(USDC(15));
    expect(second).toBe(requestedAt + DELAY);
    expect(second).toBeGreaterThan(first);
    await warpTo(c, first);
    await expectRevert(s.write.withdrawStake(), "UnstakeNotReady", [second]);
    await warpTo(c, second);
    const withdrawn = await mined(c, s.write.withdrawStake());
    expect(settlementEvents(c, withdrawn)).toEqual([
      { eventName: "StakeWithdrawn", args: { provider: p.account.address, amount: USDC(15) } },
    ]);
    expect(await balance(c, p.account.address)).toBe(USDC(15));
    expect(await s.read.stakeOf([p.account.address])).toBe(USDC(85));
  });
});

describe("slash", () => {
  async function staked(c: Chain) {
    const [p] = c.users;
    await fund(c, p, USDC(100));
    const s = settlementAs(c, p);
    await mined(c, s.write.stake([USDC(100)]));
    await mined(c, s.write.requestUnstake([USDC(40)])); // active 60, unstaking 40
    return p.account.address;
  }

  it("takes active stake first, then unstaking, and sends it to the treasury", async () => {
    const c = chain();
    const p = await staked(c);
    const op = settlementAs(c, c.operator);
    const evidence = account("evidence");
    await mined(c, op.write.slash([p, USDC(50), evidence]));
    expect(await op.read.stakes([p])).toEqual([USDC(10), USDC(40), expect.any(BigInt)]);
    await mined(c, op.write.slash([p, USDC(30), evidence]));
    expect((await op.read.stakes([p])).slice(0, 2)).toEqual([0n, USDC(20)]);
    expect(await balance(c, c.treasury.account.address)).toBe(USDC(80));
    const logs = await c.publicClient.getContractEvents({
      address: c.deployment.settlement,
      abi: Settlement.abi,
      eventName: "Slashed",
      fromBlock: 0n,
    });
    expect(logs.map((l) => l.args)).toEqual([
      { provider: p, amount: USDC(50), evidenceHash: evidence },
      { provider: p, amount: USDC(30), evidenceHash: evidence },
    ]);
  });

  it("is bounded by the provider's whole stake, and reaches stake that is waiting to leave", async () => {
    const c = chain();
    const p = await staked(c);
    const op = settlementAs(c, c.operator);
    await expectRevert(op.write.slash([p, USDC(100) + 1n, zeroHash]), "InsufficientStake", [USDC(100) + 1n, USDC(100)]);
    await expectRevert(op.write.slash([p, 0n, zeroHash]), "ZeroAmount");
    await mined(c, op.write.slash([p, USDC(100), zeroHash]));
    await warpTo(c, (await now(c)) + DELAY);
    await expectRevert(settlementAs(c, c.users[0]).write.withdrawStake(), "NothingToWithdraw");
  });

  it("only the operator slashes", async () => {
    const c = chain();
    const p = await staked(c);
    await expectRevert(settlementAs(c, c.owner).write.slash([p, 1n, zeroHash]), "NotOperator");
    await expectRevert(settlementAs(c, c.users[0]).write.slash([p, 1n, zeroHash]), "NotOperator");
  });
});
