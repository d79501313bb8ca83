import { keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { signProviderMessage, verifyProviderMessage } from "../../workers/core/protocol/provider-messages";
import { loadKeccak } from "./keccak";

describe("the WebAssembly keccak-256", () => {
  it("equals viem's on every length around the sponge's 136-byte rate, reused call after call", async () => {
    const keccak = await loadKeccak();
    for (const n of [0, 1, 31, 32, 64, 135, 136, 137, 271, 272, 1_000, 100_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      expect(keccak(bytes)).toEqual(keccak256(bytes, "bytes"));
    }
  });

  it("signs provider messages the gateway verifies with viem's keccak", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const payload = { address: account.address, timestamp: Date.now(), receipts: Array.from({ length: 50 }, (_, i) => `r-${i}-é`) };
    const signature = await signProviderMessage(account, 31337, "receipts", payload, await loadKeccak());
    expect(signature).toBe(await signProviderMessage(account, 31337, "receipts", payload));
    expect(await verifyProviderMessage(31337, "receipts", payload, signature)).toBe(true);
  });
});
