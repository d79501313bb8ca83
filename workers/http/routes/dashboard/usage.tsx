/** Usage with filters (range, group by, model / key / provider) and its CSV, the Finance API's rows. */
import type { Context } from "hono";
import type { UsageRow } from "../../../core/finance/views";
import { ApiError } from "../../../core/openai/errors";
import { keyVisible } from "../../../pipeline/finance/visible-filters";
import { parseQuery } from "../../parse";
import { usageCsv } from "../finance-format";
import { count, usdc } from "./format";
import { ErrorPage, financeNav, Layout, renderPage } from "./layout";
import { queryString, scopeOf, UsageFilters, usageQueryOf } from "./params";
import type { DashEnv, FinanceSession } from "./session";

const GROUPS = [
  ["day", "Day"],
  ["hour", "Hour"],
  ["model", "Model"],
  ["key", "Key"],
  ["provider", "Provider"],
] as const;

function filtersOf(c: Context<DashEnv<FinanceSession>>) {
  let filters: UsageFilters;
  try {
    filters = parseQuery(c, UsageFilters);
  } catch (err) {
    if (err instanceof ApiError) return { error: err.message } as const; // shown on the page, naming the filter
    throw err;
  }
  const q = usageQueryOf(filters, c.var.deps.now());
  return "error" in q ? q : { filters, q };
}

/** Another account's key is reported exactly like one that does not exist. */
const KEY_NOT_FOUND = "There is no such key ('key_id').";

/** The filter values as the query string both the page and the API take. */
const filterQuery = (f: UsageFilters) =>
  queryString({
    from: f.from?.toISOString().slice(0, 10),
    to: f.to?.toISOString().slice(0, 10),
    group_by: f.group_by,
    model: f.model,
    key_id: f.key_id,
    provider_id: f.provider_id,
  });

export async function usageCsvFile(c: Context<DashEnv<FinanceSession>>) {
  const r = filtersOf(c);
  if ("error" in r) return c.text(r.error ?? "Invalid filters.", 400);
  const scope = scopeOf(c.var.session);
  if (!(await keyVisible(c.var.deps, scope, r.q.keyId))) return c.text(KEY_NOT_FOUND, 404);
  const rows = await c.var.deps.finance.usageReport(scope, r.q);
  const name = `meshgate-usage-by-${r.q.groupBy}-${r.q.from.toISOString().slice(0, 10)}-${r.q.to.toISOString().slice(0, 10)}.csv`;
  return c.body(usageCsv(rows), 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="${name}"`,
  });
}

const Select = ({
  label,
  name,
  value,
  options,
}: {
  label: string;
  name: string;
  value?: string;
  options: { value: string; text: string }[];
}) => (
  <label>
    {label}
    <select name={name}>
      <option value="">All</option>
      {options.map((o) => (
        <option value={o.value} selected={o.value === value}>
          {o.text}
        </option>
      ))}
    </select>
  </label>
);

export async function usagePage(c: Context<DashEnv<FinanceSession>>) {
  const { deps, session } = c.var;
  const r = filtersOf(c);
  const nav = financeNav(session, "/dashboard/usage");
  if ("error" in r) {
    return renderPage(
      c,
      <Layout title="Usage" nav={nav}>
        <p class="error" role="alert">
          {r.error}
        </p>
        <p>
          <a href="/dashboard/usage">Reset the filters</a>
        </p>
      </Layout>,
      400,
    );
  }
  const { filters: f, q } = r;
  const scope = scopeOf(session);
  if (!(await keyVisible(deps, scope, q.keyId))) return ErrorPage(c, nav, 404, "Key not found", KEY_NOT_FOUND);
  // The choices for the filters: what the range holds.
  const [rows, models, keys, providers] = await Promise.all([
    deps.finance.usageReport(scope, q),
    deps.finance.usageReport(scope, { from: q.from, to: q.to, groupBy: "model" }),
    deps.finance.usageReport(scope, { from: q.from, to: q.to, groupBy: "key" }),
    deps.finance.usageReport(scope, { from: q.from, to: q.to, groupBy: "provider" }),
  ]);
  const choice = (list: UsageRow[], none?: string) => list.map((x) => ({ value: x.group === "" && none ? none : x.group, text: x.label }));
  const sum = (pick: (x: UsageRow) => bigint) => rows.reduce((s, x) => s + pick(x), 0n);
  const csvHref = `/dashboard/usage.csv${filterQuery(f)}`;
  return renderPage(
    c,
    <Layout title="Usage" nav={nav}>
      <form class="filters" method="get" action="/dashboard/usage" aria-label="Usage filters">
        <label>
          From (UTC) <input type="date" name="from" value={q.from.toISOString().slice(0, 10)} />
        </label>
        <label>
          Until (UTC, not included) <input type="date" name="to" value={q.to.toISOString().slice(0, 10)} />
        </label>
        <label>
          Group by
          <select name="group_by">
            {GROUPS.map(([v, t]) => (
              <option value={v} selected={v === q.groupBy}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <Select label="Model" name="model" value={f.model} options={choice(models)} />
        <Select label="Key" name="key_id" value={f.key_id} options={choice(keys)} />
        <Select label="Provider" name="provider_id" value={f.provider_id} options={choice(providers, "none")} />
        <button type="submit">Apply</button>
      </form>
      <p>
        <a id="csv-link" href={csvHref} download>
          Download CSV
        </a>{" "}
        <span class="muted">(the same rows as /finance/v1/usage?format=csv)</span>
      </p>
      <div class="table-wrap">
        <table id="usage-table">
          <caption>
            Usage by {q.groupBy}, {q.from.toISOString().slice(0, 10)} until {q.to.toISOString().slice(0, 10)} (UTC)
          </caption>
          <thead>
            <tr>
              <th scope="col">{GROUPS.find(([v]) => v === q.groupBy)![1]}</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Failed
              </th>
              <th scope="col" class="num">
                Prompt tokens
              </th>
              <th scope="col" class="num">
                Completion tokens
              </th>
              <th scope="col" class="num">
                Spend (USDC)
              </th>
              <th scope="col" class="num">
                Fee (USDC)
              </th>
              <th scope="col" class="num">
                Avg USDC / M tokens
              </th>
              <th scope="col" class="num">
                p50 TTFT (ms)
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colspan={9} class="muted">
                  No usage in this range.
                </td>
              </tr>
            )}
            {rows.map((x) => (
              <tr data-group={x.group}>
                <th scope="row">{x.label}</th>
                <td class="num">{count(x.requests)}</td>
                <td class="num">{count(x.failedRequests)}</td>
                <td class="num">{count(x.promptTokens)}</td>
                <td class="num">{count(x.completionTokens)}</td>
                <td class="num">{usdc(x.costPico)}</td>
                <td class="num">{usdc(x.feePico)}</td>
                <td class="num">{x.avgPricePerMTokPico === null ? "—" : usdc(x.avgPricePerMTokPico)}</td>
                <td class="num">{x.p50TtftMs ?? "—"}</td>
              </tr>
            ))}
          </tbody>
          {rows.length > 0 && (
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td class="num">{count(rows.reduce((s, x) => s + x.requests, 0))}</td>
                <td class="num">{count(rows.reduce((s, x) => s + x.failedRequests, 0))}</td>
                <td class="num">{count(sum((x) => x.promptTokens))}</td>
                <td class="num">{count(sum((x) => x.completionTokens))}</td>
                <td class="num" id="usage-total-spend">
                  {usdc(sum((x) => x.costPico))}
                </td>
                <td class="num">{usdc(sum((x) => x.feePico))}</td>
                <td></td>
                <td></td>
              </tr>
            </tfoot>
          )}
        </table>
      </div>
    </Layout>,
  );
}
