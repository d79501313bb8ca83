/**
 * Finance views over Postgres: usage from the rollups, the ledger, deposits, settlement batches, a
 * request's trail, and the provider side. Every function takes the caller's scope: one account, or
 * all (an operator's finance key); the HTTP layer decides the scope, these only apply it.
 */
export type {
  AccountSummary,
  DepositItem,
  FinanceScope,
  LedgerItem,
  ProviderEarning,
  ProviderOverview,
  RequestTrace,
  SeriesPoint,
  SettlementItem,
  UsageGroup,
  UsageQuery,
  UsageRow,
} from "../../core/finance/views";
export { accountSummary, usageReport, usageSeries } from "./finance-usage";
export { depositList, ledgerPage, requestTrace, settlementList } from "./finance-books";
export { providerEarnings, providerOverview } from "./finance-providers";

import type { WithDb } from "../../../db/client";
import type { Finance } from "../../ports";
import { accountSummary, usageReport, usageSeries } from "./finance-usage";
import { depositList, ledgerPage, requestTrace, settlementList } from "./finance-books";
import { providerEarnings, providerOverview } from "./finance-providers";

/** The Finance port: each view in its own short database session. */
export function pgFinance(withDb: WithDb): Finance {
  return {
    usageReport: (scope, q) => withDb((db) => usageReport(db, scope, q)),
    usageSeries: (scope, q) => withDb((db) => usageSeries(db, scope, q)),
    accountSummary: (scope, nowMs) => withDb((db) => accountSummary(db, scope, nowMs)),
    ledgerPage: (scope, q) => withDb((db) => ledgerPage(db, scope, q)),
    depositList: (scope, q) => withDb((db) => depositList(db, scope, q)),
    settlementList: (scope, q) => withDb((db) => settlementList(db, scope, q)),
    requestTrace: (scope, id) => withDb((db) => requestTrace(db, scope, id)),
    providerEarnings: (only) => withDb((db) => providerEarnings(db, only)),
    providerOverview: (id, q) => withDb((db) => providerOverview(db, id, q)),
  };
}
