/** The overview: balance and burn rate, spend and tokens over time stacked by model, top keys. */
import type { Context } from "hono";
import type { SeriesPoint, UsageRow } from "../../../core/finance/views";
import { count, usdc, usdcFloat } from "./format";
import { financeNav, JsonData, Layout, renderPage } from "./layout";
import { OVERVIEW_RANGES, overviewWindow, scopeOf, type OverviewRange } from "./params";
import type { DashEnv, FinanceSession } from "./session";

/** Chart data: one bar per bucket, one stacked series per model. */
function stacked(points: SeriesPoint[], grain: "hour" | "day", value: (p: SeriesPoint) => number) {
  const buckets = [...new Set(points.map((p) => p.bucket))].sort();
  const models = [...new Set(points.map((p) => p.model))].sort();
  const at = new Map(points.map((p) => [`${p.bucket} ${p.model}`, p]));
  return {
    labels: buckets.map((b) => (grain === "day" ? b.slice(0, 10) : `${b.slice(5, 10)} ${b.slice(11, 16)}`)),
    series: models.map((m) => ({
      label: m,
      values: buckets.map((b) => {
        const p = at.get(`${b} ${m}`);
        return p ? value(p) : 0;
      }),
    })),
  };
}

const totalsOf = (rows: UsageRow[]) => ({
  requests: rows.reduce((s, r) => s + r.requests, 0),
  tokens: rows.reduce((s, r) => s + r.promptTokens + r.completionTokens, 0n),
  costPico: rows.reduce((s, r) => s + r.costPico, 0n),
});

export async function overviewPage(c: Context<DashEnv<FinanceSession>>) {
  const { deps, session } = c.var;
  const asked = c.req.query("range");
  const range: OverviewRange = asked && asked in OVERVIEW_RANGES ? (asked as OverviewRange) : "7d";
  const w = overviewWindow(range, deps.now());
  const scope = scopeOf(session);
  const [summary, points, byModel] = await Promise.all([
    deps.finance.accountSummary(scope, deps.now()),
    deps.finance.usageSeries(scope, w),
    deps.finance.usageReport(scope, { from: w.from, to: w.to, groupBy: "model" }),
  ]);
  const totals = totalsOf(byModel);
  return renderPage(
    c,
    <Layout title={session.scope === "all" ? "Overview: all accounts" : "Overview"} nav={financeNav(session, "/dashboard")}>
      <dl class="cards" aria-label="Balance">
        <div class="card">
          <dt>Balance</dt>
          <dd id="balance">{usdc(summary.balancePico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Spend, last 24 h</dt>
          <dd>{usdc(summary.spend24hPico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Spend, last 7 days</dt>
          <dd>{usdc(summary.spend7dPico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Burn rate</dt>
          <dd id="burn-rate">{usdc(summary.burnRatePicoPerDay)} USDC/day</dd>
        </div>
        <div class="card">
          <dt>Runway</dt>
          <dd>{summary.runwayDays === null ? "—" : `${summary.runwayDays} days`}</dd>
        </div>
      </dl>

      <h2 id="range-heading">Usage over the last {range}</h2>
      <form class="filters" method="get" action="/dashboard">
        <label>
          Window
          <select name="range">
            {Object.keys(OVERVIEW_RANGES).map((r) => (
              <option value={r} selected={r === range}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      <p id="range" data-from={w.from.toISOString()} data-to={w.to.toISOString()} class="muted">
        {w.from.toISOString().slice(0, 16).replace("T", " ")} to {w.to.toISOString().slice(0, 16).replace("T", " ")} UTC
      </p>
      <dl class="cards" aria-labelledby="range-heading">
        <div class="card">
          <dt>Requests</dt>
          <dd id="total-requests" data-value={String(totals.requests)}>
            {count(totals.requests)}
          </dd>
        </div>
        <div class="card">
          <dt>Tokens</dt>
          <dd id="total-tokens" data-value={totals.tokens.toString()}>
            {count(totals.tokens)}
          </dd>
        </div>
        <div class="card">
          <dt>Spend</dt>
          <dd id="total-spend">{usdc(totals.costPico)} USDC</dd>
        </div>
      </dl>
      <div class="charts">
        <figure class="chart">
          <figcaption id="spend-caption">Spend (USDC) per {w.grain}, by model</figcaption>
          <div class="chart-box">
            <canvas id="spend-chart" data-chart="spend-data" role="img" aria-labelledby="spend-caption">
              Spend in this window: {usdc(totals.costPico)} USDC.
            </canvas>
          </div>
        </figure>
        <figure class="chart">
          <figcaption id="tokens-caption">Tokens per {w.grain}, by model</figcaption>
          <div class="chart-box">
            <canvas id="tokens-chart" data-chart="tokens-data" role="img" aria-labelledby="tokens-caption">
              Tokens in this window: {count(totals.tokens)}.
            </canvas>
          </div>
        </figure>
      </div>
      <JsonData id="spend-data" value={{ unit: "USDC", ...stacked(points, w.grain, (p) => usdcFloat(p.costPico)) }} />
      <JsonData id="tokens-data" value={{ unit: "tokens", ...stacked(points, w.grain, (p) => Number(p.tokens)) }} />

      <h2>Top keys, last 7 days</h2>
      <div class="table-wrap">
        <table>
          <caption>The keys that spent most over the last 7 days</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Prefix</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Spend (USDC)
              </th>
            </tr>
          </thead>
          <tbody>
            {summary.topKeys.length === 0 && (
              <tr>
                <td colspan={4} class="muted">
                  No spend in the last 7 days.
                </td>
              </tr>
            )}
            {summary.topKeys.map((k) => (
              <tr>
                <td>{k.name || "(unnamed)"}</td>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td class="num">{count(k.requests)}</td>
                <td class="num">{usdc(k.costPico)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p>
        <a href="/dashboard/usage">All usage, with filters and CSV →</a>
      </p>
    </Layout>,
  );
}
