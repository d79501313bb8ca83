/**
 * /finance/v1: read-only finance views for finance keys (mounted behind `authenticate("finance")`).
 * A key sees its own account; an operator's key (scope "all") sees every account, may narrow to
 * one with `account_id`, and alone sees the provider side. Usage is read from the rollups.
 */
import { Hono } from "hono";
import { z } from "zod";
import { chainView, financeScope, reportWindow, requireOperator } from "../../pipeline/finance/access";
import { requireVisibleKey } from "../../pipeline/finance/visible-filters";
import { errors } from "../../core/openai/errors";
import type { AppEnv } from "../app-env";
import { parseQuery } from "../parse";
import {
  depositJson,
  earningJson,
  ledgerJson,
  providerOverviewJson,
  seriesJson,
  settlementJson,
  summaryJson,
  traceJson,
  usageCsv,
  usageRowJson,
  usageTotalsJson,
} from "./finance-format";

const DateParam = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], {
    error: "must be an ISO 8601 date (2026-04-01, midnight UTC) or date-time (2026-04-01T12:00:00Z)",
  })
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s));
const AccountParam = { account_id: z.uuid().optional() };
const Range = { from: DateParam.optional(), to: DateParam.optional(), ...AccountParam };
const Limit = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt);

const UsageParams = z.strictObject({
  ...Range,
  group_by: z.enum(["day", "hour", "model", "key", "provider"]).default("day"),
  model: z.string().min(1).max(200).optional(),
  key_id: z.uuid().optional(),
  /** "" (or "none"): requests no provider served. */
  provider_id: z.string().max(100).optional(),
  format: z.enum(["json", "csv"]).default("json"),
});
const SeriesParams = z.strictObject({ ...Range, grain: z.enum(["day", "hour"]).default("day") });
const LedgerParams = z.strictObject({
  limit: Limit(500, 100),
  before: z.coerce.number().int().positive().optional(),
  kind: z.enum(["usage", "adjustment", "grant", "deposit", "withdrawal", "settlement"]).optional(),
  from: DateParam.optional(),
  to: DateParam.optional(),
  ...AccountParam,
});
const DepositParams = z.strictObject({
  limit: Limit(500, 100),
  before: z
    .string()
    .regex(/^\d{1,20}:\d{1,9}$/, "a cursor from next_before")
    .optional(),
  ...AccountParam,
});
const SettlementParams = z.strictObject({ limit: Limit(200, 50), ...AccountParam });
const AccountOnly = z.strictObject(AccountParam);
const ProviderParams = z.strictObject({ from: DateParam.optional(), to: DateParam.optional() });

export const financeRoutes = new Hono<AppEnv>()
  .get("/usage", async (c) => {
    const p = parseQuery(c, UsageParams);
    const r = reportWindow(p, c.var.deps.now(), p.group_by === "hour");
    const scope = financeScope(c.var.key, p.account_id);
    await requireVisibleKey(c.var.deps, scope, p.key_id);
    const providerId = p.provider_id === "none" ? "" : p.provider_id;
    const rows = await c.var.deps.finance.usageReport(scope, {
      ...r,
      groupBy: p.group_by,
      model: p.model,
      keyId: p.key_id,
      providerId,
    });
    if (p.format === "csv") {
      const name = `meshgate-usage-by-${p.group_by}-${r.from.toISOString().slice(0, 10)}-${r.to.toISOString().slice(0, 10)}.csv`;
      return c.body(usageCsv(rows), 200, {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${name}"`,
      });
    }
    return c.json({
      object: "list",
      group_by: p.group_by,
      from: r.from.toISOString(),
      to: r.to.toISOString(),
      data: rows.map(usageRowJson),
      totals: usageTotalsJson(rows),
    });
  })
  .get("/series", async (c) => {
    const p = parseQuery(c, SeriesParams);
    const r = reportWindow(p, c.var.deps.now(), p.grain === "hour");
    const scope = financeScope(c.var.key, p.account_id);
    const points = await c.var.deps.finance.usageSeries(scope, { ...r, grain: p.grain });
    return c.json({ object: "list", grain: p.grain, from: r.from.toISOString(), to: r.to.toISOString(), data: points.map(seriesJson) });
  })
  .get("/summary", async (c) => {
    const p = parseQuery(c, AccountOnly);
    const scope = financeScope(c.var.key, p.account_id);
    const s = await c.var.deps.finance.accountSummary(scope, c.var.deps.now());
    return c.json(summaryJson(s));
  })
  .get("/ledger", async (c) => {
    const p = parseQuery(c, LedgerParams);
    if (p.from && p.to && p.from > p.to) throw errors.invalidRequest("'from' must not be after 'to'.", "from", "invalid_range");
    const scope = financeScope(c.var.key, p.account_id);
    const page = await c.var.deps.finance.ledgerPage(scope, p);
    return c.json({ object: "list", data: page.entries.map(ledgerJson), next_before: page.nextBefore });
  })
  .get("/deposits", async (c) => {
    const p = parseQuery(c, DepositParams);
    const scope = financeScope(c.var.key, p.account_id);
    const page = await c.var.deps.finance.depositList(scope, p);
    const view = await chainView(c.var.deps);
    return c.json({ object: "list", data: page.entries.map((d) => depositJson(d, view)), next_before: page.nextBefore });
  })
  .get("/settlements", async (c) => {
    const p = parseQuery(c, SettlementParams);
    const scope = financeScope(c.var.key, p.account_id);
    const batches = await c.var.deps.finance.settlementList(scope, p);
    const view = await chainView(c.var.deps);
    return c.json({ object: "list", data: batches.map((b) => settlementJson(b, view)) });
  })
  .get("/requests/:id", async (c) => {
    parseQuery(c, z.strictObject({}));
    const id = c.req.param("id");
    const scope = financeScope(c.var.key, undefined);
    const trace = id.length <= 200 ? await c.var.deps.finance.requestTrace(scope, id) : null;
    // Another account's request is reported exactly like one that does not exist.
    if (!trace) throw errors.notFound(`Request '${id.slice(0, 200)}'`);
    return c.json(traceJson(trace, await chainView(c.var.deps)));
  })
  .get("/providers", async (c) => {
    requireOperator(c.var.key);
    parseQuery(c, z.strictObject({}));
    return c.json({ object: "list", data: (await c.var.deps.finance.providerEarnings()).map(earningJson) });
  })
  .get("/providers/:id", async (c) => {
    requireOperator(c.var.key);
    const r = reportWindow(parseQuery(c, ProviderParams), c.var.deps.now());
    const overview = await c.var.deps.finance.providerOverview(c.req.param("id"), r);
    if (!overview) throw errors.notFound(`Provider '${c.req.param("id").slice(0, 100)}'`);
    return c.json(providerOverviewJson(overview, await chainView(c.var.deps)));
  });
