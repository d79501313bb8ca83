/**
 * Traceability of the books: every ledger transaction must be exactly the one its source record
 * implies (a usage event, a credit grant), and every charged usage event must have its transaction.
 * Balance checks are `checkBooks`; this adds "nothing in the ledger that no record explains".
 */
import { grantTransaction, usageTransactionOf, type LedgerTransaction, type Posting } from "./ledger";

export interface UsageFacts { accountId: string; providerId: string | null; costPico: bigint; feePico: bigint }
export interface GrantFacts { accountId: string; amountPico: bigint }

export interface LedgerSources {
  usage: ReadonlyMap<string, UsageFacts>;
  grants: ReadonlyMap<string, GrantFacts>;
}

const key = (p: Posting) => `${p.account}=${p.amountPico}`;
const samePostings = (a: readonly Posting[], b: readonly Posting[]) =>
  a.length === b.length && [...a].map(key).sort().join(",") === [...b].map(key).sort().join(",");

export function traceProblems(txs: Iterable<LedgerTransaction>, sources: LedgerSources): string[] {
  const problems: string[] = [];
  const seenUsage = new Set<string>();
  for (const t of txs) {
    const expected = expectedTransaction(t, sources);
    if (typeof expected === "string") problems.push(expected);
    else if (!samePostings(t.postings, expected.postings)) problems.push(`${t.kind} ${t.reference}: postings differ from what its record implies`);
    if (t.kind === "usage") seenUsage.add(t.reference);
  }
  for (const [requestId, u] of sources.usage) {
    if (u.costPico > 0n && !seenUsage.has(requestId)) problems.push(`usage ${requestId}: charged ${u.costPico} pico but has no ledger entries`);
  }
  return problems;
}

function expectedTransaction(t: LedgerTransaction, s: LedgerSources): LedgerTransaction | string {
  if (t.kind === "usage") {
    const u = s.usage.get(t.reference);
    if (!u) return `usage ${t.reference}: no usage event with this request id`;
    if (!u.providerId) return `usage ${t.reference}: the usage event names no provider`;
    return usageTransactionOf({ requestId: t.reference, accountId: u.accountId, providerId: u.providerId, costPico: u.costPico, feePico: u.feePico });
  }
  if (t.kind === "grant") {
    const g = s.grants.get(t.reference);
    return g ? grantTransaction({ grantId: t.reference, ...g }) : `grant ${t.reference}: no credit grant with this id`;
  }
  // Deposits and settlements arrive with the settlement issue; until then nothing may claim to be one.
  return `${t.kind} ${t.reference}: no ${t.kind} records exist yet`;
}
