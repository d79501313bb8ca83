import { describe, expect, it } from "vitest";
import { zeroHash } from "viem";
import {
  account,
  DELAY,
  expectRevert,
  fund,
  mined,
  now,
  randomNonce,
  settlementAs,
  settlementEvents,
  signAuthorization,
  signPermit,
  USDC,
  usdcAs,
  useChain,
  warpTo,
  type Authorization,
} from "../support/contracts";

const chain = useChain();
const A = account("a");

async function depositedEvents(blockHash: `0x${string}`) {
  const c = chain();
  const logs = await c.publicClient.getContractEvents({
    address: c.deployment.settlement,
    abi: settlementAs(c, c.owner).abi,
    eventName: "Deposited",
    blockHash,
  });
  return logs.map((l) => l.args);
}

describe("deposit", () => {
  it("pulls USDC, credits escrow and the account, and makes the first depositor the owner", async () => {
    const c = chain();
    const [alice, bob] = c.users;
    await fund(c, alice, USDC(10));
    await fund(c, bob, USDC(5));
    const s = settlementAs(c, alice);
    const receipt = await mined(c, s.write.deposit([A, USDC(10)]));
    expect(await depositedEvents(receipt.blockHash)).toEqual([{ account: A, from: alice.account.address, amount: USDC(10) }]);
    await mined(c, settlementAs(c, bob).write.deposit([A, USDC(5)])); // a top-up by someone else
    expect(await s.read.accountOwner([A])).toBe(alice.account.address);
    expect(await s.read.accountDeposits([A])).toBe(USDC(15));
    expect(await s.read.escrow()).toBe(USDC(15));
    expect(await usdcAs(c, alice).read.balanceOf([c.deployment.settlement])).toBe(USDC(15));
  });

  it("rejects a zero amount, the zero account, and a missing allowance", async () => {
    const c = chain();
    const [alice] = c.users;
    const s = settlementAs(c, alice);
    await expectRevert(s.write.deposit([A, 0n]), "ZeroAmount");
    await expectRevert(s.write.deposit([zeroHash, 1n]), "ZeroAccount");
    await mined(c, usdcAs(c, alice).write.mint([alice.account.address, USDC(1)]));
    await expectRevert(s.write.deposit([A, USDC(1)]), "ERC20InsufficientAllowance");
  });
});

describe("depositWithPermit", () => {
  it("deposits with a signed permit in one transaction", async () => {
    const c = chain();
    const [alice] = c.users;
    await mined(c, usdcAs(c, alice).write.mint([alice.account.address, USDC(3)]));
    const deadline = (await now(c)) + 600n;
    const { v, r, s } = await signPermit(c, alice, c.deployment.settlement, USDC(3), deadline);
    await mined(c, settlementAs(c, alice).write.depositWithPermit([A, USDC(3), deadline, v, r, s]));
    expect(await settlementAs(c, alice).read.accountDeposits([A])).toBe(USDC(3));
    expect(await settlementAs(c, alice).read.accountOwner([A])).toBe(alice.account.address);
  });

  it("tolerates a front-run permit by relying on the allowance it set", async () => {
    const c = chain();
    const [alice, mallory] = c.users;
    await mined(c, usdcAs(c, alice).write.mint([alice.account.address, USDC(3)]));
    const deadline = (await now(c)) + 600n;
    const { v, r, s } = await signPermit(c, alice, c.deployment.settlement, USDC(3), deadline);
    await mined(c, usdcAs(c, mallory).write.permit([alice.account.address, c.deployment.settlement, USDC(3), deadline, v, r, s]));
    await mined(c, settlementAs(c, alice).write.depositWithPermit([A, USDC(3), deadline, v, r, s]));
    expect(await settlementAs(c, alice).read.escrow()).toBe(USDC(3));
  });

  it("fails when the permit is invalid and no allowance exists", async () => {
    const c = chain();
    const [alice] = c.users;
    await mined(c, usdcAs(c, alice).write.mint([alice.account.address, USDC(3)]));
    const deadline = (await now(c)) + 600n;
    const { v, r, s } = await signPermit(c, alice, c.deployment.settlement, USDC(2), deadline); // signed for less
    await expectRevert(settlementAs(c, alice).write.depositWithPermit([A, USDC(3), deadline, v, r, s]), "ERC20InsufficientAllowance");
  });
});

describe("depositWithAuthorization", () => {
  async function signed(from = chain().users[0], value = USDC(4)) {
    const c = chain();
    await mined(c, usdcAs(c, from).write.mint([from.account.address, value]));
    const auth: Authorization = {
      from: from.account.address,
      to: c.deployment.settlement,
      value,
      validAfter: 0n,
      validBefore: (await now(c)) + 600n,
      nonce: randomNonce(),
    };
    const sig = await signAuthorization(c, from, "ReceiveWithAuthorization", auth);
    return [auth, [auth.from, auth.value, auth.validAfter, auth.validBefore, auth.nonce, sig.v, sig.r, sig.s] as const] as const;
  }

  it("a relayer submits the signed deposit; the signer owns the new account", async () => {
    const c = chain();
    const [alice, relayer] = c.users;
    const [auth, args] = await signed(alice);
    const receipt = await mined(c, settlementAs(c, relayer).write.depositWithAuthorization([A, ...args]));
    expect(await depositedEvents(receipt.blockHash)).toEqual([{ account: A, from: alice.account.address, amount: USDC(4) }]);
    const s = settlementAs(c, relayer);
    expect(await s.read.accountOwner([A])).toBe(alice.account.address);
    expect(await s.read.escrow()).toBe(USDC(4));
    expect(await usdcAs(c, relayer).read.authorizationState([alice.account.address, auth.nonce])).toBe(true);
    await expectRevert(s.write.depositWithAuthorization([A, ...args]), "AuthorizationAlreadyUsed");
  });

  it("cannot credit an account that belongs to someone else (a relayer could not redirect the money)", async () => {
    const c = chain();
    const [alice, mallory] = c.users;
    await fund(c, mallory, USDC(1));
    await mined(c, settlementAs(c, mallory).write.deposit([A, USDC(1)]));
    const [, args] = await signed(alice);
    await expectRevert(settlementAs(c, mallory).write.depositWithAuthorization([A, ...args]), "NotAccountOwner", [
      A,
      alice.account.address,
    ]);
  });

  it("rejects a forged authorization", async () => {
    const c = chain();
    const [alice, bob] = c.users;
    const [auth] = await signed(alice);
    const forged = await signAuthorization(c, bob, "ReceiveWithAuthorization", auth);
    await expectRevert(
      settlementAs(c, bob).write.depositWithAuthorization([
        A,
        auth.from,
        auth.value,
        auth.validAfter,
        auth.validBefore,
        auth.nonce,
        forged.v,
        forged.r,
        forged.s,
      ]),
      "InvalidSignature",
    );
  });
});

describe("withdrawals", () => {
  async function deposited(amount = USDC(10)) {
    const c = chain();
    const [alice] = c.users;
    await fund(c, alice, amount);
    await mined(c, settlementAs(c, alice).write.deposit([A, amount]));
    return { c, alice, s: settlementAs(c, alice) };
  }

  it("request → wait the delay → withdraw pays the owner and lowers escrow and deposits", async () => {
    const { c, alice, s } = await deposited();
    const receipt = await mined(c, s.write.requestWithdrawal([A, USDC(4)]));
    const requestedAt = (await c.publicClient.getBlock({ blockHash: receipt.blockHash })).timestamp;
    const [amount, availableAt] = await s.read.pendingWithdrawals([A]);
    expect({ amount, availableAt }).toEqual({ amount: USDC(4), availableAt: requestedAt + DELAY });
    expect(settlementEvents(c, receipt)).toEqual([
      { eventName: "WithdrawalRequested", args: { account: A, owner: alice.account.address, amount: USDC(4), availableAt } },
    ]);
    await warpTo(c, availableAt - 2n); // the next block (the withdrawal) is at availableAt - 1
    await expectRevert(s.write.withdraw([A]), "WithdrawalNotReady", [availableAt]);
    await warpTo(c, availableAt);
    const paid = await mined(c, s.write.withdraw([A]));
    expect(settlementEvents(c, paid)).toEqual([
      { eventName: "Withdrawn", args: { account: A, to: alice.account.address, amount: USDC(4) } },
    ]);
    expect(await usdcAs(c, alice).read.balanceOf([alice.account.address])).toBe(USDC(4));
    expect(await s.read.escrow()).toBe(USDC(6));
    expect(await s.read.accountDeposits([A])).toBe(USDC(6));
    expect((await s.read.pendingWithdrawals([A]))[1]).toBe(0n);
    await expectRevert(s.write.withdraw([A]), "NoPendingWithdrawal");
  });

  it("only the account owner may request, cancel or withdraw", async () => {
    const { c, s } = await deposited();
    const mallory = settlementAs(c, c.users[1]);
    await expectRevert(mallory.write.requestWithdrawal([A, 1n]), "NotAccountOwner");
    await mined(c, s.write.requestWithdrawal([A, USDC(1)]));
    await expectRevert(mallory.write.cancelWithdrawal([A]), "NotAccountOwner");
    await warpTo(c, (await now(c)) + DELAY);
    await expectRevert(mallory.write.withdraw([A]), "NotAccountOwner");
    await mined(c, s.write.withdraw([A]));
  });

  it("bounds a request by deposits, allows one at a time, and cancels", async () => {
    const { c, s } = await deposited();
    await expectRevert(s.write.requestWithdrawal([A, USDC(11)]), "ExceedsDeposits", [USDC(11), USDC(10)]);
    await expectRevert(s.write.requestWithdrawal([A, 0n]), "ZeroAmount");
    await mined(c, s.write.requestWithdrawal([A, USDC(10)]));
    await expectRevert(s.write.requestWithdrawal([A, USDC(1)]), "WithdrawalAlreadyPending");
    expect(settlementEvents(c, await mined(c, s.write.cancelWithdrawal([A])))).toEqual([
      { eventName: "WithdrawalCancelled", args: { account: A } },
    ]);
    await expectRevert(s.write.cancelWithdrawal([A]), "NoPendingWithdrawal");
    await mined(c, s.write.requestWithdrawal([A, USDC(1)]));
  });

  it("the operator limits a pending withdrawal to the unspent balance, only before it is available", async () => {
    const { c, alice, s } = await deposited();
    await mined(c, s.write.requestWithdrawal([A, USDC(10)]));
    const op = settlementAs(c, c.operator);
    await expectRevert(settlementAs(c, alice).write.limitWithdrawal([A, USDC(1)]), "NotOperator");
    await expectRevert(op.write.limitWithdrawal([A, USDC(11)]), "LimitAbovePending");
    const limited = await mined(c, op.write.limitWithdrawal([A, USDC(3)]));
    expect(settlementEvents(c, limited)).toEqual([{ eventName: "WithdrawalLimited", args: { account: A, amount: USDC(3) } }]);
    expect((await s.read.pendingWithdrawals([A]))[0]).toBe(USDC(3));
    const [, availableAt] = await s.read.pendingWithdrawals([A]);
    await warpTo(c, availableAt);
    await expectRevert(op.write.limitWithdrawal([A, USDC(1)]), "WithdrawalAlreadyAvailable");
    await mined(c, s.write.withdraw([A]));
    expect(await usdcAs(c, alice).read.balanceOf([alice.account.address])).toBe(USDC(3));
    expect(await s.read.accountDeposits([A])).toBe(USDC(7));
  });

  it("limiting to zero removes the request", async () => {
    const { c, s } = await deposited();
    await expectRevert(settlementAs(c, c.operator).write.limitWithdrawal([A, 0n]), "NoPendingWithdrawal");
    await mined(c, s.write.requestWithdrawal([A, USDC(10)]));
    await mined(c, settlementAs(c, c.operator).write.limitWithdrawal([A, 0n]));
    await expectRevert(s.write.withdraw([A]), "NoPendingWithdrawal");
  });

  it("pays at most what escrow holds", async () => {
    const { c, alice, s } = await deposited(USDC(10));
    await mined(c, s.write.requestWithdrawal([A, USDC(10)]));
    // The account spent 8 (settled to a provider) and the operator did not limit the request.
    await mined(
      c,
      settlementAs(c, c.operator).write.settle([account("batch"), account("root"), [c.users[3].account.address], [USDC(8)], 0n]),
    );
    await warpTo(c, (await now(c)) + DELAY);
    await mined(c, s.write.withdraw([A]));
    expect(await usdcAs(c, alice).read.balanceOf([alice.account.address])).toBe(USDC(2));
    expect(await s.read.escrow()).toBe(0n);
  });
});

describe("pause", () => {
  it("blocks deposits and withdrawals; cancel and limit still work", async () => {
    const c = chain();
    const [alice] = c.users;
    await fund(c, alice, USDC(10));
    const s = settlementAs(c, alice);
    await mined(c, s.write.deposit([A, USDC(5)]));
    await mined(c, s.write.requestWithdrawal([A, USDC(2)]));
    await mined(c, settlementAs(c, c.owner).write.pause());
    await expectRevert(s.write.deposit([A, USDC(1)]), "EnforcedPause");
    const deadline = (await now(c)) + 600n;
    const p = await signPermit(c, alice, c.deployment.settlement, USDC(1), deadline);
    await expectRevert(s.write.depositWithPermit([A, USDC(1), deadline, p.v, p.r, p.s]), "EnforcedPause");
    const auth: Authorization = {
      from: alice.account.address,
      to: c.deployment.settlement,
      value: USDC(1),
      validAfter: 0n,
      validBefore: deadline,
      nonce: randomNonce(),
    };
    const a = await signAuthorization(c, alice, "ReceiveWithAuthorization", auth);
    await expectRevert(
      s.write.depositWithAuthorization([A, auth.from, auth.value, 0n, deadline, auth.nonce, a.v, a.r, a.s]),
      "EnforcedPause",
    );
    await expectRevert(s.write.requestWithdrawal([A, USDC(1)]), "EnforcedPause");
    await mined(c, settlementAs(c, c.operator).write.limitWithdrawal([A, USDC(1)]));
    await warpTo(c, (await now(c)) + DELAY);
    await expectRevert(s.write.withdraw([A]), "EnforcedPause");
    await mined(c, s.write.cancelWithdrawal([A]));
    await mined(c, settlementAs(c, c.owner).write.unpause());
    await mined(c, s.write.deposit([A, USDC(1)]));
  });
});
