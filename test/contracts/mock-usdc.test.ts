import { describe, expect, it } from "vitest";
import { keccak256, toHex } from "viem";
import {
  mined,
  expectRevert,
  now,
  randomNonce,
  signAuthorization,
  signPermit,
  usdcAs,
  useChain,
  USDC,
  type Authorization,
} from "../support/contracts";

const chain = useChain();

describe("MockUSDC", () => {
  it("looks like USDC: name, symbol, 6 decimals, an open faucet", async () => {
    const c = chain();
    const [alice] = c.users;
    const usdc = usdcAs(c, alice);
    expect(await usdc.read.name()).toBe("USD Coin");
    expect(await usdc.read.symbol()).toBe("USDC");
    expect(await usdc.read.decimals()).toBe(6);
    await mined(c, usdc.write.mint([alice.account.address, USDC(5)]));
    expect(await usdc.read.balanceOf([alice.account.address])).toBe(USDC(5));
  });

  it("uses Circle's EIP-712 domain and EIP-3009 typehashes", async () => {
    const c = chain();
    const usdc = usdcAs(c, c.owner);
    const [, name, version, chainId, verifyingContract] = await usdc.read.eip712Domain();
    expect({ name, version, chainId, verifyingContract }).toEqual({
      name: "USD Coin",
      version: "2",
      chainId: BigInt(c.chain.id),
      verifyingContract: c.deployment.usdc,
    });
    // FiatToken v2's constants.
    expect(await usdc.read.TRANSFER_WITH_AUTHORIZATION_TYPEHASH()).toBe(
      "0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267",
    );
    expect(await usdc.read.RECEIVE_WITH_AUTHORIZATION_TYPEHASH()).toBe(
      "0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8",
    );
  });

  describe("permit (EIP-2612)", () => {
    it("sets an allowance from a signature and consumes the nonce", async () => {
      const c = chain();
      const [alice, bob] = c.users;
      const deadline = (await now(c)) + 3600n;
      const sig = await signPermit(c, alice, bob.account.address, USDC(7), deadline);
      const usdc = usdcAs(c, bob);
      await mined(c, usdc.write.permit([alice.account.address, bob.account.address, USDC(7), deadline, sig.v, sig.r, sig.s]));
      expect(await usdc.read.allowance([alice.account.address, bob.account.address])).toBe(USDC(7));
      expect(await usdc.read.nonces([alice.account.address])).toBe(1n);
      await expectRevert(
        usdc.write.permit([alice.account.address, bob.account.address, USDC(7), deadline, sig.v, sig.r, sig.s]),
        "ERC2612InvalidSigner",
      );
    });

    it("rejects an expired deadline and a wrong value", async () => {
      const c = chain();
      const [alice, bob] = c.users;
      const usdc = usdcAs(c, bob);
      const past = (await now(c)) - 1n;
      const old = await signPermit(c, alice, bob.account.address, USDC(1), past);
      await expectRevert(
        usdc.write.permit([alice.account.address, bob.account.address, USDC(1), past, old.v, old.r, old.s]),
        "ERC2612ExpiredSignature",
      );
      const deadline = (await now(c)) + 3600n;
      const sig = await signPermit(c, alice, bob.account.address, USDC(1), deadline);
      await expectRevert(
        usdc.write.permit([alice.account.address, bob.account.address, USDC(2), deadline, sig.v, sig.r, sig.s]),
        "ERC2612InvalidSigner",
      );
    });
  });

  describe("EIP-3009", () => {
    async function setup() {
      const c = chain();
      const [alice, bob, carol] = c.users;
      await mined(c, usdcAs(c, alice).write.mint([alice.account.address, USDC(100)]));
      const t = await now(c);
      const auth: Authorization = {
        from: alice.account.address,
        to: bob.account.address,
        value: USDC(10),
        validAfter: 0n,
        validBefore: t + 3600n,
        nonce: randomNonce(),
      };
      return { c, alice, bob, carol, auth, t };
    }
    const args = (a: Authorization, s: { v: number; r: `0x${string}`; s: `0x${string}` }) =>
      [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, s.v, s.r, s.s] as const;

    it("transferWithAuthorization moves funds once, marks the nonce and emits AuthorizationUsed", async () => {
      const { c, alice, bob, carol, auth } = await setup();
      const sig = await signAuthorization(c, alice, "TransferWithAuthorization", auth);
      const usdc = usdcAs(c, carol); // anyone may relay
      expect(await usdc.read.authorizationState([alice.account.address, auth.nonce])).toBe(false);
      const receipt = await mined(c, usdc.write.transferWithAuthorization(args(auth, sig)));
      expect(await usdc.read.balanceOf([bob.account.address])).toBe(USDC(10));
      expect(await usdc.read.authorizationState([alice.account.address, auth.nonce])).toBe(true);
      const used = await c.publicClient.getContractEvents({
        address: c.deployment.usdc,
        abi: usdc.abi,
        eventName: "AuthorizationUsed",
        blockHash: receipt.blockHash,
      });
      expect(used.map((e) => e.args)).toEqual([{ authorizer: alice.account.address, nonce: auth.nonce }]);
      await expectRevert(usdc.write.transferWithAuthorization(args(auth, sig)), "AuthorizationAlreadyUsed");
    });

    it("enforces validAfter and validBefore", async () => {
      const { c, alice, bob, auth, t } = await setup();
      const usdc = usdcAs(c, bob);
      const early = { ...auth, validAfter: t + 1000n };
      await expectRevert(
        usdc.write.transferWithAuthorization(args(early, await signAuthorization(c, alice, "TransferWithAuthorization", early))),
        "AuthorizationNotYetValid",
      );
      const late = { ...auth, validBefore: t };
      await expectRevert(
        usdc.write.transferWithAuthorization(args(late, await signAuthorization(c, alice, "TransferWithAuthorization", late))),
        "AuthorizationExpired",
      );
    });

    it("rejects a signature by someone else or over other terms", async () => {
      const { c, alice, bob, auth } = await setup();
      const usdc = usdcAs(c, bob);
      const bySomeoneElse = await signAuthorization(c, bob, "TransferWithAuthorization", auth);
      await expectRevert(usdc.write.transferWithAuthorization(args(auth, bySomeoneElse)), "InvalidSignature");
      const sig = await signAuthorization(c, alice, "TransferWithAuthorization", auth);
      await expectRevert(usdc.write.transferWithAuthorization(args({ ...auth, value: auth.value + 1n }, sig)), "InvalidSignature");
      // A ReceiveWithAuthorization signature is not a TransferWithAuthorization one.
      const receiveSig = await signAuthorization(c, alice, "ReceiveWithAuthorization", auth);
      await expectRevert(usdc.write.transferWithAuthorization(args(auth, receiveSig)), "InvalidSignature");
    });

    it("receiveWithAuthorization may be submitted only by the payee", async () => {
      const { c, alice, bob, carol, auth } = await setup();
      const sig = await signAuthorization(c, alice, "ReceiveWithAuthorization", auth);
      await expectRevert(usdcAs(c, carol).write.receiveWithAuthorization(args(auth, sig)), "CallerMustBePayee");
      await mined(c, usdcAs(c, bob).write.receiveWithAuthorization(args(auth, sig)));
      expect(await usdcAs(c, bob).read.balanceOf([bob.account.address])).toBe(USDC(10));
      expect(await usdcAs(c, bob).read.authorizationState([alice.account.address, auth.nonce])).toBe(true);
    });

    it("nonces are per authorizer and arbitrary 32-byte values", async () => {
      const { c, alice, bob, auth } = await setup();
      const fixed = { ...auth, nonce: keccak256(toHex("same nonce")) };
      await mined(
        c,
        usdcAs(c, bob).write.transferWithAuthorization(args(fixed, await signAuthorization(c, alice, "TransferWithAuthorization", fixed))),
      );
      await mined(c, usdcAs(c, bob).write.mint([bob.account.address, USDC(10)]));
      const fromBob = { ...fixed, from: bob.account.address, to: alice.account.address };
      await mined(
        c,
        usdcAs(c, alice).write.transferWithAuthorization(
          args(fromBob, await signAuthorization(c, bob, "TransferWithAuthorization", fromBob)),
        ),
      );
      expect(await usdcAs(c, bob).read.balanceOf([alice.account.address])).toBe(USDC(100));
    });
  });
});
