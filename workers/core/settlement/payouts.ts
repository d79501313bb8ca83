/**
 * A period's payout plan, from ledger balances: each provider is paid the whole USDC base units of
 * what it has earned and not yet been paid; the protocol's fees go to the treasury the same way.
 * Sub-unit remainders (and any debt from a refund) stay on the ledger for the next period. A plan
 * larger than one transaction can carry is split into parts, each its own on-chain batch.
 */
import { type Address, encodeAbiParameters, getAddress, type Hex, keccak256 } from "viem";
import { baseToPico, picoToBase } from "./units";

export interface Earning {
  providerId: string;
  address: string | null;
  balancePico: bigint;
}

export interface Payout {
  providerId: string;
  address: Address;
  amountBase: bigint;
}

export interface BatchPlan {
  part: number;
  payouts: Payout[];
  feeBase: bigint;
  totalBase: bigint;
}

export interface PayoutPlan {
  batches: BatchPlan[];
  /** What stays on the ledger, per provider with anything left (pico). */
  carried: { providerId: string; pico: bigint; reason: "remainder" | "debt" | "no_address" }[];
  feeCarriedPico: bigint;
}

export function planPayouts(input: { earnings: readonly Earning[]; feesPico: bigint; maxPayoutsPerBatch: number }): PayoutPlan {
  if (!Number.isInteger(input.maxPayoutsPerBatch) || input.maxPayoutsPerBatch < 1) {
    throw new RangeError(`maxPayoutsPerBatch must be a positive integer, got ${input.maxPayoutsPerBatch}`);
  }
  const payouts: Payout[] = [];
  const carried: PayoutPlan["carried"] = [];
  // Sorted by provider id: the same ledger always yields the same batches.
  for (const e of [...input.earnings].sort((a, b) => (a.providerId < b.providerId ? -1 : a.providerId > b.providerId ? 1 : 0))) {
    if (e.balancePico === 0n) continue;
    if (e.balancePico < 0n) {
      carried.push({ providerId: e.providerId, pico: e.balancePico, reason: "debt" });
      continue;
    }
    if (!e.address) {
      carried.push({ providerId: e.providerId, pico: e.balancePico, reason: "no_address" });
      continue;
    }
    const { base, remainderPico } = picoToBase(e.balancePico);
    if (remainderPico !== 0n) carried.push({ providerId: e.providerId, pico: remainderPico, reason: "remainder" });
    if (base > 0n) payouts.push({ providerId: e.providerId, address: getAddress(e.address), amountBase: base });
  }
  const fee = picoToBase(input.feesPico > 0n ? input.feesPico : 0n);
  const feeCarriedPico = input.feesPico > 0n ? fee.remainderPico : input.feesPico;

  const batches: BatchPlan[] = [];
  for (let i = 0; i < payouts.length || (i === 0 && fee.base > 0n); i += input.maxPayoutsPerBatch) {
    const chunk = payouts.slice(i, i + input.maxPayoutsPerBatch);
    const feeBase = i === 0 ? fee.base : 0n; // the fee rides with the first part
    batches.push({ part: batches.length, payouts: chunk, feeBase, totalBase: chunk.reduce((s, p) => s + p.amountBase, feeBase) });
  }
  return { batches, carried, feeCarriedPico };
}

/** The on-chain batch id: unique per chain, contract, period and part, so no two batches can collide. */
export function batchIdOf(chainId: number, settlement: Address, periodId: number, part: number): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "address" }, { type: "uint256" }, { type: "uint256" }],
      [BigInt(chainId), settlement, BigInt(periodId), BigInt(part)],
    ),
  );
}

/** Pico paid by a batch, per ledger account: what the settlement transaction debits. */
export function batchPico(b: Pick<BatchPlan, "payouts" | "feeBase">): {
  providers: { providerId: string; pico: bigint }[];
  feePico: bigint;
} {
  return {
    providers: b.payouts.map((p) => ({ providerId: p.providerId, pico: baseToPico(p.amountBase) })),
    feePico: baseToPico(b.feeBase),
  };
}
