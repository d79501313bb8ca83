/**
 * The double-entry ledger, in pico-USDC: every transaction is a set of postings that sum to 0n,
 * so money only moves between accounts and the sum of all balances is always 0n.
 *
 * A posting's amount is signed from its holder's side: positive credits the holder (their balance
 * goes up), negative debits them. Sources of money (grants, deposits) are accounts too and go
 * negative by what they have issued, which is what keeps the global sum at zero.
 */

export interface Posting {
  account: string;
  amountPico: bigint;
}

export interface LedgerTransaction {
  kind: "usage" | "adjustment" | "grant" | "deposit" | "withdrawal" | "settlement";
  /** usage: the request id; grant: the grant id; deposit, withdrawal: chainId:txhash:logIndex; settlement: the batch id. */
  reference: string;
  postings: Posting[];
}

export const customerAccount = (accountId: string): string => `customer:${accountId}`;
export const providerAccount = (providerId: string): string => `provider:${providerId}`;
/** The protocol's cut of every usage charge. */
export const PROTOCOL_FEES = "protocol:fees";
/** The source of operator credit grants; negative by everything granted. */
export const GRANTS = "protocol:grants";
/** The source of on-chain deposits; negative by everything deposited. */
export const DEPOSITS = "external:deposits";
/** Where customer withdrawals go: positive by everything held for withdrawal on chain. */
export const WITHDRAWALS = "external:withdrawals";
/** Where settled payouts and fees go: positive by everything paid on chain. */
export const PAYOUTS = "external:payouts";

const BPS = 10_000n;

/**
 * Splits a usage cost into the protocol fee and the provider's share. The fee is rounded down and
 * the provider gets the exact remainder, so the two always add up to the cost and rounding favours
 * the provider by less than one pico.
 */
export function feeSplit(costPico: bigint, feeBps: number): { feePico: bigint; providerPico: bigint } {
  if (costPico < 0n) throw new RangeError(`costPico must not be negative, got ${costPico}`);
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > 10_000) {
    throw new RangeError(`feeBps must be an integer in 0..10000, got ${feeBps}`);
  }
  const feePico = (costPico * BigInt(feeBps)) / BPS; // both non-negative: bigint division is floor
  return { feePico, providerPico: costPico - feePico };
}

// Zero postings carry no information, and the store writes one row per (kind, reference, account).
function nonZero(postings: Posting[]): Posting[] {
  return postings.filter((p) => p.amountPico !== 0n);
}

/** A served request: the customer pays the cost, split between the provider and the protocol fee. */
export function usageTransaction(u: {
  requestId: string;
  accountId: string;
  providerId: string;
  costPico: bigint;
  feeBps: number;
}): LedgerTransaction {
  return usageTransactionOf({ ...u, feePico: feeSplit(u.costPico, u.feeBps).feePico });
}

/**
 * The same, from a usage event that already carries its fee (fixed when it was metered, at the
 * rate then in force): the books record what the event says, whatever the rate is today.
 */
export function usageTransactionOf(u: {
  requestId: string;
  accountId: string;
  providerId: string;
  costPico: bigint;
  feePico: bigint;
}): LedgerTransaction {
  if (u.costPico < 0n || u.feePico < 0n || u.feePico > u.costPico) {
    throw new RangeError(`a usage fee must be within 0..cost, got fee ${u.feePico} of cost ${u.costPico}`);
  }
  return { kind: "usage", reference: u.requestId, postings: chargePostings(u.accountId, u.providerId, u.costPico, u.feePico) };
}

/** The customer pays `costPico`; the provider earns it less the fee, the protocol the fee. Zero postings dropped. */
function chargePostings(accountId: string, providerId: string, costPico: bigint, feePico: bigint): Posting[] {
  return nonZero([
    { account: customerAccount(accountId), amountPico: -costPico },
    { account: providerAccount(providerId), amountPico: costPico - feePico },
    { account: PROTOCOL_FEES, amountPico: feePico },
  ]);
}

/**
 * A usage event billed again (a client that left mid-stream, corrected to the provider's signed
 * counts): the difference, split the same way — a further charge, or a refund when the gateway's
 * estimate was above the signed count. The fee moves with the cost, never beyond it. Once per request.
 */
export function adjustmentTransaction(a: {
  requestId: string;
  accountId: string;
  providerId: string;
  deltaCostPico: bigint;
  deltaFeePico: bigint;
}): LedgerTransaction {
  const abs = (x: bigint) => (x < 0n ? -x : x);
  const sameSign = a.deltaFeePico === 0n || a.deltaFeePico < 0n === a.deltaCostPico < 0n;
  if (a.deltaCostPico === 0n || !sameSign || abs(a.deltaFeePico) > abs(a.deltaCostPico)) {
    throw new RangeError(`an adjustment moves a non-zero cost with its fee within it, got ${a.deltaCostPico} with fee ${a.deltaFeePico}`);
  }
  return {
    kind: "adjustment",
    reference: a.requestId,
    postings: chargePostings(a.accountId, a.providerId, a.deltaCostPico, a.deltaFeePico),
  };
}

function fundingTransaction(
  kind: "grant" | "deposit",
  source: string,
  reference: string,
  accountId: string,
  amountPico: bigint,
): LedgerTransaction {
  if (amountPico <= 0n) throw new RangeError(`${kind} amountPico must be positive, got ${amountPico}`);
  return {
    kind,
    reference,
    postings: [
      { account: source, amountPico: -amountPico },
      { account: customerAccount(accountId), amountPico },
    ],
  };
}

/** An operator's credit grant: GRANTS pays, the customer is credited. */
export function grantTransaction(g: { grantId: string; accountId: string; amountPico: bigint }): LedgerTransaction {
  return fundingTransaction("grant", GRANTS, g.grantId, g.accountId, g.amountPico);
}

/** An on-chain deposit (reference = chainId:txhash:logIndex): DEPOSITS pays, the customer is credited. */
export function depositTransaction(d: { reference: string; accountId: string; amountPico: bigint }): LedgerTransaction {
  return fundingTransaction("deposit", DEPOSITS, d.reference, d.accountId, d.amountPico);
}

/** A withdrawal requested on chain (reference = chainId:txhash:logIndex): held off the customer's spendable balance at once. */
export function withdrawalTransaction(w: { reference: string; accountId: string; amountPico: bigint }): LedgerTransaction {
  if (w.amountPico <= 0n) throw new RangeError(`withdrawal amountPico must be positive, got ${w.amountPico}`);
  return {
    kind: "withdrawal",
    reference: w.reference,
    postings: [
      { account: customerAccount(w.accountId), amountPico: -w.amountPico },
      { account: WITHDRAWALS, amountPico: w.amountPico },
    ],
  };
}

/**
 * A withdrawal closed on chain (reference = the closing event): what was held and not paid goes back
 * to the customer (a cancel: all of it); paid above the hold (not limited in time), the excess is
 * charged to the customer. `releasedPico` is held − paid, never zero.
 */
export function withdrawalCloseTransaction(w: { reference: string; accountId: string; releasedPico: bigint }): LedgerTransaction {
  if (w.releasedPico === 0n) throw new RangeError("a withdrawal close that changes nothing books nothing");
  return {
    kind: "withdrawal",
    reference: w.reference,
    postings: [
      { account: customerAccount(w.accountId), amountPico: w.releasedPico },
      { account: WITHDRAWALS, amountPico: -w.releasedPico },
    ],
  };
}

/** A confirmed settlement batch (reference = the batch id): each provider and the fee pot are paid out on chain. */
export function settlementTransaction(b: {
  batchId: string;
  providers: { providerId: string; pico: bigint }[];
  feePico: bigint;
}): LedgerTransaction {
  const postings = nonZero([
    ...b.providers.map((p) => {
      if (p.pico <= 0n) throw new RangeError(`a payout must be positive, got ${p.pico} for ${p.providerId}`);
      return { account: providerAccount(p.providerId), amountPico: -p.pico };
    }),
    { account: PROTOCOL_FEES, amountPico: -b.feePico },
  ]);
  const total = postings.reduce((s, p) => s - p.amountPico, 0n);
  if (total <= 0n) throw new RangeError("a settlement pays something");
  return { kind: "settlement", reference: b.batchId, postings: [...postings, { account: PAYOUTS, amountPico: total }] };
}

/** Every account's balance: the sum of its postings. Accounts with no postings are absent. */
export function balances(txs: Iterable<LedgerTransaction>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const t of txs) {
    for (const p of t.postings) out.set(p.account, (out.get(p.account) ?? 0n) + p.amountPico);
  }
  return out;
}

/**
 * Audits a set of transactions and returns what is wrong with them, one human-readable line per
 * problem; an empty list means the books balance. Checks each transaction sums to 0n, has a
 * reference, is not a duplicate (kind, reference), posts to each account at most once (the store
 * keeps one posting per (kind, reference, account), so a second would be silently dropped), and
 * for usage: the customer is only debited and providers and fees are never debited. Finally the
 * sum of all balances must be 0n.
 */
export function checkBooks(txs: Iterable<LedgerTransaction>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  let total = 0n;
  for (const t of txs) {
    const label = `${t.kind} ${JSON.stringify(t.reference)}`;
    if (t.reference === "") problems.push(`${t.kind} transaction has an empty reference`);
    const key = `${t.kind}\u0000${t.reference}`;
    if (seen.has(key)) problems.push(`${label} is recorded more than once`);
    seen.add(key);

    let sum = 0n;
    const accounts = new Set<string>();
    for (const p of t.postings) {
      sum += p.amountPico;
      if (accounts.has(p.account)) problems.push(`${label} posts to ${p.account} more than once`);
      accounts.add(p.account);
      // (An adjustment may be a refund, so only usage has fixed signs; the audit checks adjustments against their events.)
      if (t.kind !== "usage") continue;
      if (p.account.startsWith("customer:") && p.amountPico >= 0n) {
        problems.push(`${label} does not debit customer ${p.account} (${p.amountPico})`);
      }
      if ((p.account.startsWith("provider:") || p.account === PROTOCOL_FEES) && p.amountPico < 0n) {
        problems.push(`${label} debits ${p.account} (${p.amountPico})`);
      }
    }
    if (sum !== 0n) problems.push(`${label} does not balance: postings sum to ${sum}`);
    total += sum;
  }
  if (total !== 0n) problems.push(`balances sum to ${total}, not 0`);
  return problems;
}
