/**
 * Units and identifiers shared by the ledger and the chain. The ledger counts pico-USDC (1e-12);
 * the chain counts USDC base units (1e-6). Conversions floor and report the remainder, which stays
 * on the ledger and is paid in a later period: never lost, never created.
 */
import { type Hex, isHex, pad } from "viem";

export const PICO_PER_BASE = 1_000_000n;

/** Whole base units in `pico`, and what is left over (always 0 ≤ remainder < 1e6 for pico ≥ 0). */
export function picoToBase(pico: bigint): { base: bigint; remainderPico: bigint } {
  if (pico < 0n) return { base: 0n, remainderPico: pico }; // a debt is carried whole
  return { base: pico / PICO_PER_BASE, remainderPico: pico % PICO_PER_BASE };
}

export const baseToPico = (base: bigint): bigint => base * PICO_PER_BASE;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An account id (uuid) as the bytes32 the Settlement contract keys deposits by: the 16 bytes, left-padded. */
export function accountToBytes32(accountId: string): Hex {
  if (!UUID.test(accountId)) throw new RangeError(`not an account id: ${accountId}`);
  return pad(`0x${accountId.replace(/-/g, "").toLowerCase()}`, { size: 32 });
}

/** The account id a bytes32 names, or null when it cannot be one of ours (not a left-padded uuid). */
export function bytes32ToAccount(value: string): string | null {
  if (!isHex(value) || value.length !== 66) return null;
  const hex = value.slice(2).toLowerCase();
  if (!/^0{32}$/.test(hex.slice(0, 32))) return null;
  const u = hex.slice(32);
  return `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`;
}

export { formatBase } from "../money/units";
