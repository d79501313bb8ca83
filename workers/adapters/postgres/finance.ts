/**
 * Finance views over Postgres: usage from the rollups, the ledger, deposits, settlement batches, a
 * request's trail, and the provider side. Every function takes the caller's scope: one account, or
 * all (an operator's finance key); the HTTP layer decides the scope, these only apply it.
 */
export type {
  AccountSummary, DepositItem, FinanceScope, LedgerItem, ProviderEarning, ProviderOverview, RequestTrace, SeriesPoint, SettlementItem,
  UsageGroup, UsageQuery, UsageRow,
} from "./finance-types";
export { accountSummary, usageReport, usageSeries } from "./finance-usage";
export { depositList, ledgerPage, requestTrace, settlementList } from "./finance-books";
export { providerEarnings, providerOverview } from "./finance-providers";
