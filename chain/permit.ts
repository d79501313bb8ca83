/** The local USDC's EIP-2612 permit, as EIP-712 typed data for viem's signTypedData (one definition for scripts, tests and benches). */
import type { Address } from "viem";

export interface PermitFields {
  chainId: number;
  usdc: Address;
  owner: Address;
  spender: Address;
  value: bigint;
  nonce: bigint;
  deadline: bigint;
}

export function usdcPermit(p: PermitFields) {
  return {
    domain: { name: "USD Coin", version: "2", chainId: p.chainId, verifyingContract: p.usdc },
    primaryType: "Permit" as const,
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    message: { owner: p.owner, spender: p.spender, value: p.value, nonce: p.nonce, deadline: p.deadline },
  } as const;
}
