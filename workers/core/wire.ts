/**
 * The wire primitives every boundary shares: a 0x address and 0x hex, parsed once by zod into
 * viem's types, so no code past a boundary casts a string to `0x${string}`.
 */
import { isAddress, isHex, type Address as ViemAddress, type Hex as ViemHex } from "viem";
import { z } from "zod";

/** A 20-byte 0x address: all lower case, all upper case, or mixed case with a valid EIP-55 checksum (a typo fails). */
export const Address = z.custom<ViemAddress>(
  (v) => typeof v === "string" && isAddress(v),
  "must be a 0x address (20 bytes, EIP-55 checksum if mixed case)",
);
export type Address = ViemAddress;

/** 0x-prefixed hex of any length. */
export const Hex = z.custom<ViemHex>((v) => typeof v === "string" && isHex(v, { strict: true }), "must be 0x-prefixed hex");
export type Hex = ViemHex;

/** A 65-byte secp256k1 signature as 0x hex. */
export const Signature = z.custom<ViemHex>(
  (v) => typeof v === "string" && /^0x[0-9a-fA-F]{130}$/.test(v),
  "must be a 65-byte 0x-hex signature",
);

/** The value as an address, or null: for headers and other strings read outside a schema. */
export const addressOrNull = (v: string | undefined | null): Address | null => (typeof v === "string" && isAddress(v) ? v : null);
