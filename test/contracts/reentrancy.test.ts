/**
 * Settlement over a malicious token (contracts/test/ReentrantToken.sol) whose transfer calls back into
 * Settlement. The token is also the operator and an account owner, so a reentrant call passes access
 * control and only the reentrancy guard stands in its way.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { encodeFunctionData, getContract, maxUint256, type Address, type Hex } from "viem";
import { Settlement } from "../../contracts/generated/artifacts";
import { ReentrantToken } from "../../contracts/generated/test-artifacts";
import { account, DELAY, DISPUTE, expectRevert, mined, now, PERIOD, settlementErrors, useChain, warpTo } from "../support/contracts";

const chain = useChain();
const A = account("token's account");
const ROOT = account("root");
const abi = [...ReentrantToken.abi, ...settlementErrors] as const;
let token: Address;
let settlement: Address;

const call = (functionName: string, args: readonly unknown[] = []) =>
  encodeFunctionData({ abi: Settlement.abi, functionName, args } as Parameters<typeof encodeFunctionData>[0]);

beforeAll(async () => {
  const c = chain();
  const deploy = async (hash: Promise<Hex>) => (await mined(c, hash)).contractAddress!;
  token = await deploy(c.owner.deployContract({ abi: ReentrantToken.abi, bytecode: ReentrantToken.bytecode }));
  settlement = await deploy(
    c.owner.deployContract({
      abi: Settlement.abi,
      bytecode: Settlement.bytecode,
      args: [token, c.owner.account.address, token, c.treasury.account.address, PERIOD, DISPUTE, DELAY],
    }),
  );
  const t = tokenAs();
  await mined(c, t.write.mint([token, 1_000n]));
  await mined(
    c,
    t.write.exec([token, encodeFunctionData({ abi: ReentrantToken.abi, functionName: "approve", args: [settlement, maxUint256] })]),
  );
  await mined(c, t.write.exec([settlement, call("deposit", [A, 1_000n])]));
});

function tokenAs() {
  const c = chain();
  return getContract({ address: token, abi, client: { public: c.publicClient, wallet: c.owner } });
}
const settlementRead = () => getContract({ address: settlement, abi: Settlement.abi, client: chain().publicClient });

/** Makes the token's next transfer call `reenter` on Settlement, then has the token call `outer`. */
async function attack(outer: Hex, reenter: Hex) {
  await mined(chain(), tokenAs().write.arm([settlement, reenter]));
  return tokenAs().write.exec([settlement, outer]);
}

const settleTo = (batch: string, to: Address, amount: bigint, fee: bigint) => call("settle", [account(batch), ROOT, [to], [amount], fee]);

describe("reentrancy guard", () => {
  it("the hook really runs inside a transfer: an unguarded call goes through", async () => {
    const c = chain();
    await mined(c, attack(settleTo("b1", token, 10n, 1n), call("requestWithdrawal", [A, 5n])));
    expect(await settlementRead().read.isSettled([account("b1")])).toBe(true);
    expect((await settlementRead().read.pendingWithdrawals([A]))[0]).toBe(5n);
  });

  it("stops settle reentering settle during the fee transfer", async () => {
    await expectRevert(attack(settleTo("b1", token, 10n, 1n), settleTo("b2", token, 500n, 0n)), "ReentrancyGuardReentrantCall");
    expect(await settlementRead().read.isSettled([account("b1")])).toBe(false);
    expect(await settlementRead().read.escrow()).toBe(1_000n);
  });

  it("stops withdrawEarnings reentering itself", async () => {
    const c = chain();
    await mined(c, tokenAs().write.exec([settlement, settleTo("b1", token, 100n, 0n)]));
    await expectRevert(attack(call("withdrawEarnings"), call("withdrawEarnings")), "ReentrancyGuardReentrantCall");
    await expectRevert(attack(call("withdrawEarnings"), settleTo("b2", token, 1n, 0n)), "ReentrancyGuardReentrantCall");
    expect(await settlementRead().read.earnings([token])).toBe(100n);
  });

  it("stops withdraw reentering withdraw or settle", async () => {
    const c = chain();
    await mined(c, tokenAs().write.exec([settlement, call("requestWithdrawal", [A, 400n])]));
    await warpTo(c, (await now(c)) + DELAY);
    await expectRevert(attack(call("withdraw", [A]), call("withdraw", [A])), "ReentrancyGuardReentrantCall");
    await expectRevert(attack(call("withdraw", [A]), settleTo("b1", token, 600n, 0n)), "ReentrancyGuardReentrantCall");
    await mined(c, tokenAs().write.arm([settlement, "0x"])); // disarm: the plain withdrawal works
    await mined(c, tokenAs().write.exec([settlement, call("withdraw", [A])]));
    expect(await settlementRead().read.escrow()).toBe(600n);
  });
});
