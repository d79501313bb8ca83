/**
 * /finance/v1: read-only finance views for finance keys (mounted behind `authenticate("finance")`).
 * A key sees its own account; an operator's key (scope "all") sees every account, may narrow to
 * one with `account_id`, and alone sees the provider side. Usage is read from the rollups.
 */
import { reportRange } from "../../core/finance/range";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { chainReader } from "../../adapters/chain/reader";
import {
  accountSummary, depositList, ledgerPage, providerEarnings, providerOverview, requestTrace, settlementList, usageReport, usageSeries,
  type FinanceScope,
} from "../../adapters/postgres/finance";
import { errors } from "../../core/openai/errors";
import { fromZod } from "../../core/openai/schemas";
import type { AppEnv } from "../app-env";
import {
  depositJson, earningJson, ledgerJson, providerOverviewJson, seriesJson, settlementJson, summaryJson, traceJson, usageCsv, usageRowJson,
  usageTotalsJson, type ChainView,
} from "./finance-format";

const DateParam = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  error: "must be an ISO 8601 date (2026-04-01, midnight UTC) or date-time (2026-04-01T12:00:00Z)",
}).transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s));
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
  limit: Limit(500, 100), before: z.coerce.number().int().positive().optional(),
  kind: z.enum(["usage", "adjustment", "grant", "deposit", "withdrawal", "settlement"]).optional(),
  from: DateParam.optional(), to: DateParam.optional(), ...AccountParam,
});
const DepositParams = z.strictObject({ limit: Limit(500, 100), before: z.string().regex(/^\d{1,20}:\d{1,9}$/, "a cursor from next_before").optional(), ...AccountParam });
const SettlementParams = z.strictObject({ limit: Limit(200, 50), ...AccountParam });
const AccountOnly = z.strictObject(AccountParam);
const ProviderParams = z.strictObject({ from: DateParam.optional(), to: DateParam.optional() });

function query<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  const r = schema.safeParse(c.req.query());
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue?.code === "unrecognized_keys") throw errors.invalidRequest(`Unknown query parameter '${issue.keys[0]}'.`, issue.keys[0] ?? null, "unknown_parameter");
  throw fromZod(r.error);
}

/** [from, to): by default the last 30 whole UTC days up to the end of today. */
function range(p: { from?: Date; to?: Date }, nowMs: number, hourly = false): { from: Date; to: Date } {
  const r = reportRange(p, nowMs, hourly);
  if ("error" in r) throw errors.invalidRequest(r.message, r.error === "invalid_range" ? "from" : "to", r.error);
  return r;
}

/** The key's own account; an operator's key sees all, or the one account it names. */
function scopeOf(c: Context<AppEnv>, accountId: string | undefined): FinanceScope {
  const key = c.var.key;
  if (key.scope === "all") return accountId ? { kind: "account", accountId } : { kind: "all" };
  if (accountId !== undefined && accountId !== key.accountId) throw errors.forbidden("Only an operator's finance key may read another account ('account_id').");
  return { kind: "account", accountId: key.accountId };
}

function operatorOnly(c: Context<AppEnv>): void {
  if (c.var.key.scope !== "all") throw errors.forbidden("The provider side of the books is for an operator's finance key (scope 'all').");
}

// The chain head, per isolate and briefly: a page of settlements asks once, not once per row.
const HEAD_TTL_MS = 5_000;
let headMemo: { rpcUrl: string; atMs: number; head: bigint } | undefined;

async function chainView(c: Context<AppEnv>): Promise<ChainView> {
  const { cfg, now } = c.var.deps;
  const view = (head: bigint | null): ChainView => ({ head, explorerTxUrl: cfg.explorerTxUrl });
  if (!cfg.chain) return view(null);
  if (headMemo?.rpcUrl === cfg.chain.rpcUrl && now() - headMemo.atMs < HEAD_TTL_MS) return view(headMemo.head);
  try {
    const head = await chainReader(cfg.chain).head();
    headMemo = { rpcUrl: cfg.chain.rpcUrl, atMs: now(), head };
    return view(head);
  } catch (err) {
    // Confirmations are informative: an unreachable node shows them as unknown rather than failing the page.
    console.error(`finance: chain head unavailable: ${err instanceof Error ? err.message : String(err)}`);
    return view(null);
  }
}

export const financeRoutes = new Hono<AppEnv>()
  .get("/usage", async (c) => {
    const p = query(c, UsageParams);
    const r = range(p, c.var.deps.now(), p.group_by === "hour");
    const scope = scopeOf(c, p.account_id);
    const providerId = p.provider_id === "none" ? "" : p.provider_id;
    const rows = await c.var.deps.withDb((db) => usageReport(db, scope, {
      ...r, groupBy: p.group_by, model: p.model, keyId: p.key_id, providerId,
    }));
    if (p.format === "csv") {
      const name = `meshgate-usage-by-${p.group_by}-${r.from.toISOString().slice(0, 10)}-${r.to.toISOString().slice(0, 10)}.csv`;
      return c.body(usageCsv(rows), 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"` });
    }
    return c.json({
      object: "list", group_by: p.group_by, from: r.from.toISOString(), to: r.to.toISOString(),
      data: rows.map(usageRowJson), totals: usageTotalsJson(rows),
    });
  })
  .get("/series", async (c) => {
    const p = query(c, SeriesParams);
    const r = range(p, c.var.deps.now(), p.grain === "hour");
    const scope = scopeOf(c, p.account_id);
    const points = await c.var.deps.withDb((db) => usageSeries(db, scope, { ...r, grain: p.grain }));
    return c.json({ object: "list", grain: p.grain, from: r.from.toISOString(), to: r.to.toISOString(), data: points.map(seriesJson) });
  })
  .get("/summary", async (c) => {
    const p = query(c, AccountOnly);
    const scope = scopeOf(c, p.account_id);
    const s = await c.var.deps.withDb((db) => accountSummary(db, scope, c.var.deps.now()));
    return c.json(summaryJson(s));
  })
  .get("/ledger", async (c) => {
    const p = query(c, LedgerParams);
    if (p.from && p.to && p.from > p.to) throw errors.invalidRequest("'from' must not be after 'to'.", "from", "invalid_range");
    const scope = scopeOf(c, p.account_id);
    const page = await c.var.deps.withDb((db) => ledgerPage(db, scope, p));
    return c.json({ object: "list", data: page.entries.map(ledgerJson), next_before: page.nextBefore });
  })
  .get("/deposits", async (c) => {
    const p = query(c, DepositParams);
    const scope = scopeOf(c, p.account_id);
    const page = await c.var.deps.withDb((db) => depositList(db, scope, p));
    const view = await chainView(c);
    return c.json({ object: "list", data: page.entries.map((d) => depositJson(d, view)), next_before: page.nextBefore });
  })
  .get("/settlements", async (c) => {
    const p = query(c, SettlementParams);
    const scope = scopeOf(c, p.account_id);
    const batches = await c.var.deps.withDb((db) => settlementList(db, scope, p));
    const view = await chainView(c);
    return c.json({ object: "list", data: batches.map((b) => settlementJson(b, view)) });
  })
  .get("/requests/:id", async (c) => {
    query(c, z.strictObject({}));
    const id = c.req.param("id");
    const scope = scopeOf(c, undefined);
    const trace = id.length <= 200 ? await c.var.deps.withDb((db) => requestTrace(db, scope, id)) : null;
    // Another account's request is reported exactly like one that does not exist.
    if (!trace) throw errors.notFound(`Request '${id.slice(0, 200)}'`);
    return c.json(traceJson(trace, await chainView(c)));
  })
  .get("/providers", async (c) => {
    operatorOnly(c);
    query(c, z.strictObject({}));
    return c.json({ object: "list", data: (await c.var.deps.withDb((db) => providerEarnings(db))).map(earningJson) });
  })
  .get("/providers/:id", async (c) => {
    operatorOnly(c);
    const r = range(query(c, ProviderParams), c.var.deps.now());
    const overview = await c.var.deps.withDb((db) => providerOverview(db, c.req.param("id"), r));
    if (!overview) throw errors.notFound(`Provider '${c.req.param("id").slice(0, 100)}'`);
    return c.json(providerOverviewJson(overview, await chainView(c)));
  });
