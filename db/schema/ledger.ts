/** The books: double-entry postings and the operator's credit grants they trace to. */
import { bigint, bigserial, index, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";
import { accounts } from "./accounts";

/**
 * The double-entry ledger: each transaction (kind + reference) is a set of postings that sum to
 * zero; positive credits the holder. Accounts are `customer:<id>`, `provider:<id>`,
 * `protocol:fees`, `protocol:grants`, `external:deposits`. A posting is written once per
 * (kind, reference, account), so a replayed write adds nothing. Balances are sums of postings.
 */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    kind: text({ enum: ["usage", "adjustment", "grant", "deposit", "withdrawal", "settlement"] }).notNull(),
    /** usage: the request id; grant: the grant id; deposit, withdrawal: chainId:txhash:logIndex; settlement: the batch id. */
    reference: text().notNull(),
    account: text().notNull(),
    amountPico: bigint({ mode: "bigint" }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique().on(t.kind, t.reference, t.account),
    index().on(t.account, t.createdAt),
    // The finance API pages an account's postings newest first by id.
    index().on(t.account, t.id),
  ],
);

/** Credits granted by an operator (until deposits arrive on chain): what a grant entry traces to. */
export const creditGrants = pgTable("credit_grants", {
  id: uuid().primaryKey().defaultRandom(),
  accountId: uuid()
    .notNull()
    .references(() => accounts.id),
  amountPico: bigint({ mode: "bigint" }).notNull(),
  note: text(),
  createdAt: createdAt(),
});
