/** Settlement: settling batches and pulling earnings, the owner's controls, and the constructor. Stake and slash: settle-stake.test.ts. */
import { describe, expect, it } from "vitest";
import { zeroAddress, zeroHash } from "viem";
import { Settlement } from "../../contracts/generated/artifacts";
import {
  account,
  DELAY,
  DISPUTE,
  expectRevert,
  fund,
  mined,
  now,
  PERIOD,
  settlementAs,
  settlementEvents,
  USDC,
  useChain,
  warpTo,
  type Chain,
} from "../support/contracts";
import { balance } from "../support/contracts-settle";

const chain = useChain();
const A = account("a");
const ROOT = account("root");

/** Alice deposits `amount` into account A. */
async function withEscrow(c: Chain, amount: bigint) {
  const [alice] = c.users;
  await fund(c, alice, amount);
  await mined(c, settlementAs(c, alice).write.deposit([A, amount]));
}

describe("settle", () => {
  it("moves payouts and the fee out of escrow, credits earnings, pays the fee to the treasury", async () => {
    const c = chain();
    const [, p1, p2] = c.users;
    await withEscrow(c, USDC(100));
    const op = settlementAs(c, c.operator);
    const batch = account("batch-1");
    expect(await op.read.isSettled([batch])).toBe(false);
    const receipt = await mined(c, op.write.settle([batch, ROOT, [p1.account.address, p2.account.address], [USDC(30), USDC(20)], USDC(5)]));
    expect(await op.read.escrow()).toBe(USDC(45));
    expect(await op.read.earnings([p1.account.address])).toBe(USDC(30));
    expect(await op.read.earnings([p2.account.address])).toBe(USDC(20));
    expect(await balance(c, c.treasury.account.address)).toBe(USDC(5));
    expect(await op.read.batchRoots([batch])).toBe(ROOT);
    expect(await op.read.isSettled([batch])).toBe(true);

    const events = await c.publicClient.getContractEvents({
      address: c.deployment.settlement,
      abi: Settlement.abi,
      blockHash: receipt.blockHash,
    });
    expect(events.filter((e) => e.eventName === "Paid").map((e) => e.args)).toEqual([
      { batchId: batch, provider: p1.account.address, amount: USDC(30) },
      { batchId: batch, provider: p2.account.address, amount: USDC(20) },
    ]);
    expect(events.find((e) => e.eventName === "Settled")?.args).toEqual({
      batchId: batch,
      merkleRoot: ROOT,
      total: USDC(55),
      fee: USDC(5),
      payouts: 2n,
    });
  });

  it("rejects a replayed batch, even with another root", async () => {
    const c = chain();
    const [, p1] = c.users;
    await withEscrow(c, USDC(100));
    const op = settlementAs(c, c.operator);
    const batch = account("batch-1");
    await mined(c, op.write.settle([batch, ROOT, [p1.account.address], [USDC(1)], 0n]));
    await expectRevert(op.write.settle([batch, account("other"), [p1.account.address], [USDC(1)], 0n]), "BatchAlreadySettled", [batch]);
    expect(await op.read.earnings([p1.account.address])).toBe(USDC(1));
  });

  it("validates its input: ids, lengths, payees, and escrow", async () => {
    const c = chain();
    const [, p1] = c.users;
    await withEscrow(c, USDC(10));
    const op = settlementAs(c, c.operator);
    const b = account("b");
    const to = [p1.account.address];
    await expectRevert(op.write.settle([zeroHash, ROOT, to, [1n], 0n]), "ZeroBatch");
    await expectRevert(op.write.settle([b, zeroHash, to, [1n], 0n]), "ZeroBatch");
    await expectRevert(op.write.settle([b, ROOT, to, [1n, 2n], 0n]), "LengthMismatch", [1n, 2n]);
    await expectRevert(op.write.settle([b, ROOT, [zeroAddress], [1n], 0n]), "ZeroAddress");
    await expectRevert(op.write.settle([b, ROOT, to, [USDC(9)], USDC(1) + 1n]), "InsufficientEscrow", [USDC(10) + 1n, USDC(10)]);
    await mined(c, op.write.settle([b, ROOT, to, [USDC(9)], USDC(1)])); // exactly the escrow
    expect(await op.read.escrow()).toBe(0n);
  });

  it("only the operator settles", async () => {
    const c = chain();
    await withEscrow(c, USDC(10));
    for (const w of [c.owner, c.users[0]]) {
      await expectRevert(settlementAs(c, w).write.settle([account("b"), ROOT, [], [], 1n]), "NotOperator", [w.account.address]);
    }
  });

  it("providers pull their earnings once", async () => {
    const c = chain();
    const [, p1] = c.users;
    await withEscrow(c, USDC(10));
    await mined(c, settlementAs(c, c.operator).write.settle([account("b1"), ROOT, [p1.account.address], [USDC(3)], 0n]));
    await mined(c, settlementAs(c, c.operator).write.settle([account("b2"), ROOT, [p1.account.address], [USDC(4)], 0n]));
    const s = settlementAs(c, p1);
    const pulled = await mined(c, s.write.withdrawEarnings());
    expect(settlementEvents(c, pulled)).toEqual([
      { eventName: "EarningsWithdrawn", args: { provider: p1.account.address, amount: USDC(7) } },
    ]);
    expect(await balance(c, p1.account.address)).toBe(USDC(7));
    expect(await s.read.earnings([p1.account.address])).toBe(0n);
    await expectRevert(s.write.withdrawEarnings(), "NothingToWithdraw");
  });
});

describe("owner", () => {
  it("sets the operator and the treasury; nobody else can", async () => {
    const c = chain();
    const [alice, newOp, newTreasury] = c.users;
    const owner = settlementAs(c, c.owner);
    await expectRevert(settlementAs(c, alice).write.setOperator([alice.account.address]), "OwnableUnauthorizedAccount", [
      alice.account.address,
    ]);
    await expectRevert(settlementAs(c, c.operator).write.setTreasury([alice.account.address]), "OwnableUnauthorizedAccount");
    await expectRevert(owner.write.setOperator([zeroAddress]), "ZeroAddress");
    await expectRevert(owner.write.setTreasury([zeroAddress]), "ZeroAddress");
    expect(settlementEvents(c, await mined(c, owner.write.setOperator([newOp.account.address])))).toEqual([
      { eventName: "OperatorChanged", args: { operator: newOp.account.address } },
    ]);
    expect(settlementEvents(c, await mined(c, owner.write.setTreasury([newTreasury.account.address])))).toEqual([
      { eventName: "TreasuryChanged", args: { treasury: newTreasury.account.address } },
    ]);
    expect(await owner.read.operator()).toBe(newOp.account.address);
    expect(await owner.read.treasury()).toBe(newTreasury.account.address);
    await withEscrow(c, USDC(2));
    await expectRevert(settlementAs(c, c.operator).write.settle([account("b"), ROOT, [], [], 1n]), "NotOperator");
    await mined(c, settlementAs(c, newOp).write.settle([account("b"), ROOT, [], [], USDC(1)]));
    expect(await balance(c, newTreasury.account.address)).toBe(USDC(1));
  });

  it("transfers ownership in two steps", async () => {
    const c = chain();
    const [alice] = c.users;
    await mined(c, settlementAs(c, c.owner).write.transferOwnership([alice.account.address]));
    expect(await settlementAs(c, c.owner).read.owner()).toBe(c.owner.account.address);
    await mined(c, settlementAs(c, alice).write.acceptOwnership());
    expect(await settlementAs(c, c.owner).read.owner()).toBe(alice.account.address);
    await expectRevert(settlementAs(c, c.owner).write.pause(), "OwnableUnauthorizedAccount");
  });

  it("pause stops staking, payouts and slashing; only the owner pauses and unpauses", async () => {
    const c = chain();
    const [alice, p] = c.users;
    await withEscrow(c, USDC(10));
    await fund(c, p, USDC(10));
    const ps = settlementAs(c, p);
    await mined(c, ps.write.stake([USDC(5)]));
    await mined(c, ps.write.requestUnstake([USDC(1)]));
    await mined(c, settlementAs(c, c.operator).write.settle([account("b1"), ROOT, [p.account.address], [USDC(1)], 0n]));

    await expectRevert(settlementAs(c, alice).write.pause(), "OwnableUnauthorizedAccount");
    await expectRevert(settlementAs(c, c.operator).write.pause(), "OwnableUnauthorizedAccount");
    await mined(c, settlementAs(c, c.owner).write.pause());
    await expectRevert(settlementAs(c, alice).write.unpause(), "OwnableUnauthorizedAccount");
    await warpTo(c, (await now(c)) + DELAY);
    const op = settlementAs(c, c.operator);
    await expectRevert(op.write.settle([account("b2"), ROOT, [p.account.address], [1n], 0n]), "EnforcedPause");
    await expectRevert(op.write.slash([p.account.address, 1n, zeroHash]), "EnforcedPause");
    await expectRevert(ps.write.stake([1n]), "EnforcedPause");
    await expectRevert(ps.write.requestUnstake([1n]), "EnforcedPause");
    await expectRevert(ps.write.withdrawStake(), "EnforcedPause");
    await expectRevert(ps.write.withdrawEarnings(), "EnforcedPause");

    await mined(c, settlementAs(c, c.owner).write.unpause());
    await mined(c, ps.write.withdrawStake());
    await mined(c, ps.write.withdrawEarnings());
    expect(await balance(c, p.account.address)).toBe(USDC(7));
  });
});

describe("constructor", () => {
  it("requires withdrawalDelay > settlementPeriod + disputeWindow, and nonzero addresses", async () => {
    const c = chain();
    const deploy = (delay: bigint, operator = c.operator.account.address) =>
      c.owner.deployContract({
        abi: Settlement.abi,
        bytecode: Settlement.bytecode,
        args: [c.deployment.usdc, c.owner.account.address, operator, c.treasury.account.address, PERIOD, DISPUTE, delay],
      });
    await expectRevert(deploy(PERIOD + DISPUTE), "InvalidDelays");
    await expectRevert(deploy(DELAY, zeroAddress), "ZeroAddress");
    const receipt = await mined(c, deploy(PERIOD + DISPUTE + 1n));
    expect(receipt.contractAddress).toBeTruthy();
    const s = settlementAs(c, c.owner);
    expect([await s.read.settlementPeriod(), await s.read.disputeWindow(), await s.read.withdrawalDelay()]).toEqual([
      PERIOD,
      DISPUTE,
      DELAY,
    ]);
    expect(await s.read.usdc()).toBe(c.deployment.usdc);
  });
});
