/**
 * Traceability of the books: every ledger transaction must be exactly the one its source record
 * implies (a usage event, a credit grant), and every charged usage event must have its transaction.
 * Balance checks are `checkBooks`; this adds "nothing in the ledger that no record explains".
 */
import {
  depositTransaction,
  grantTransaction,
  settlementTransaction,
  usageTransactionOf,
  withdrawalCloseTransaction,
  withdrawalTransaction,
  type LedgerTransaction,
  type Posting,
} from "./ledger";

export interface UsageFacts {
  accountId: string;
  providerId: string | null;
  costPico: bigint;
  feePico: bigint;
}
export interface GrantFacts {
  accountId: string;
  amountPico: bigint;
}
/** A credited deposit or a held withdrawal, by its ledger reference. */
export interface FundsFacts {
  accountId: string;
  amountPico: bigint;
}
/** A settled batch, by its id. */
export interface SettlementFacts {
  providers: { providerId: string; pico: bigint }[];
  feePico: bigint;
}

export interface LedgerSources {
  usage: ReadonlyMap<string, UsageFacts>;
  grants: ReadonlyMap<string, GrantFacts>;
  deposits?: ReadonlyMap<string, FundsFacts>;
  withdrawals?: ReadonlyMap<string, FundsFacts>;
  /** Closed withdrawals, by the closing event's reference: what went back to (or was charged to) the customer. */
  withdrawalCloses?: ReadonlyMap<string, { accountId: string; releasedPico: bigint }>;
  settlements?: ReadonlyMap<string, SettlementFacts>;
}

const key = (p: Posting) => `${p.account}=${p.amountPico}`;
const samePostings = (a: readonly Posting[], b: readonly Posting[]) =>
  a.length === b.length && [...a].map(key).sort().join(",") === [...b].map(key).sort().join(",");

export function traceProblems(txs: Iterable<LedgerTransaction>, sources: LedgerSources): string[] {
  const problems: string[] = [];
  const seenUsage = new Set<string>();
  const all = [...txs];
  // A usage event's books are its usage transaction plus, if it was billed again, its adjustment.
  const adjustments = new Map(all.filter((t) => t.kind === "adjustment").map((t) => [t.reference, t]));
  for (const t of all) {
    if (t.kind === "adjustment") {
      if (!all.some((u) => u.kind === "usage" && u.reference === t.reference))
        problems.push(`adjustment ${t.reference}: no usage transaction to adjust`);
      continue;
    }
    const expected = expectedTransaction(t, sources);
    const booked = t.kind === "usage" ? combined(t, adjustments.get(t.reference)) : t.postings;
    if (typeof expected === "string") problems.push(expected);
    else if (!samePostings(booked, expected.postings))
      problems.push(`${t.kind} ${t.reference}: postings differ from what its record implies`);
    if (t.kind === "usage") seenUsage.add(t.reference);
  }
  for (const [requestId, u] of sources.usage) {
    if (u.costPico > 0n && !seenUsage.has(requestId))
      problems.push(`usage ${requestId}: charged ${u.costPico} pico but has no ledger entries`);
  }
  return problems;
}

function combined(usage: LedgerTransaction, adjustment: LedgerTransaction | undefined): Posting[] {
  if (!adjustment) return usage.postings;
  const sums = new Map<string, bigint>();
  for (const p of [...usage.postings, ...adjustment.postings]) sums.set(p.account, (sums.get(p.account) ?? 0n) + p.amountPico);
  return [...sums].filter(([, v]) => v !== 0n).map(([account, amountPico]) => ({ account, amountPico }));
}

function expectedTransaction(t: LedgerTransaction, s: LedgerSources): LedgerTransaction | string {
  if (t.kind === "usage") {
    const u = s.usage.get(t.reference);
    if (!u) return `usage ${t.reference}: no usage event with this request id`;
    if (!u.providerId) return `usage ${t.reference}: the usage event names no provider`;
    return usageTransactionOf({
      requestId: t.reference,
      accountId: u.accountId,
      providerId: u.providerId,
      costPico: u.costPico,
      feePico: u.feePico,
    });
  }
  if (t.kind === "grant") {
    const g = s.grants.get(t.reference);
    return g ? grantTransaction({ grantId: t.reference, ...g }) : `grant ${t.reference}: no credit grant with this id`;
  }
  if (t.kind === "deposit") {
    const d = s.deposits?.get(t.reference);
    return d ? depositTransaction({ reference: t.reference, ...d }) : `deposit ${t.reference}: no credited deposit with this reference`;
  }
  if (t.kind === "withdrawal") {
    const w = s.withdrawals?.get(t.reference);
    if (w) return withdrawalTransaction({ reference: t.reference, ...w });
    const closed = s.withdrawalCloses?.get(t.reference);
    return closed
      ? withdrawalCloseTransaction({ reference: t.reference, ...closed })
      : `withdrawal ${t.reference}: no withdrawal with this reference`;
  }
  if (t.kind === "settlement") {
    const b = s.settlements?.get(t.reference);
    return b ? settlementTransaction({ batchId: t.reference, ...b }) : `settlement ${t.reference}: no settled batch with this id`;
  }
  return `${t.kind} ${t.reference}: unknown kind`;
}
