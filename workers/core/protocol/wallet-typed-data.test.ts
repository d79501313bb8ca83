import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { verifyProviderMessage } from "./provider-messages";
import { walletTypedDataJson } from "./wallet-typed-data";

// Anvil's well-known dev key: test-only.
const wallet = privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const CHAIN = 31337;

/** What a wallet does with eth_signTypedData_v4's JSON argument. */
async function signAsWallet(json: string) {
  const { types, ...rest } = JSON.parse(json) as { types: Record<string, unknown> };
  delete types.EIP712Domain;
  return wallet.signTypedData({ ...rest, types } as unknown as Parameters<typeof wallet.signTypedData>[0]);
}

describe("a dashboard sign-in signed by a browser wallet", () => {
  const payload = { address: wallet.address, timestamp: 1_750_000_000_000, nonce: "1750000300000.abc.def" };

  it("verifies as the provider message it stands for", async () => {
    const signature = await signAsWallet(walletTypedDataJson(CHAIN, "dashboard", payload));
    expect(await verifyProviderMessage(CHAIN, "dashboard", payload, signature)).toBe(true);
  });

  it("is bound to its kind, nonce and chain", async () => {
    const signature = await signAsWallet(walletTypedDataJson(CHAIN, "dashboard", payload));
    expect(await verifyProviderMessage(CHAIN, "heartbeat", payload, signature)).toBe(false);
    const otherNonce = { ...payload, nonce: "other" };
    expect(await verifyProviderMessage(CHAIN, "dashboard", otherNonce, signature)).toBe(false);
    expect(await verifyProviderMessage(8453, "dashboard", payload, signature)).toBe(false);
  });
});
