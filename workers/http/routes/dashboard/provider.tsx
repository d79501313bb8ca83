/**
 * The provider's dashboard (a 'provider' session, opened by a wallet signature: provider-sign-in.tsx):
 * requests served, earnings and the unpaid balance, payouts with their transactions, latency and
 * success rate, and the Merkle proof of each settled receipt.
 */
import { Hono, type Context } from "hono";
import { ApiError } from "../../../core/openai/errors";
import type { AppEnv } from "../../app-env";
import { receiptProofFor } from "../../../pipeline/receipts/proof";
import { baseUsdc, count, short, TxHash, usdc, when } from "./format";
import { ErrorPage, Layout, renderPage, type Nav } from "./layout";
import { providerSignInRoutes } from "./provider-sign-in";
import { requireSession, type DashEnv, type ProviderSession } from "./session";

const DAY_MS = 86_400_000;

const providerNav = (s: ProviderSession): Nav => ({
  kind: "provider",
  who: `${s.providerId} (${short(s.address, 6)})`,
  active: "/dashboard/provider",
});

async function overviewPage(c: Context<DashEnv<ProviderSession>>) {
  const { deps, session } = c.var;
  const to = new Date(Math.floor(deps.now() / DAY_MS) * DAY_MS + DAY_MS);
  const from = new Date(to.getTime() - 30 * DAY_MS);
  const o = await deps.finance.providerOverview(session.providerId, { from, to });
  if (!o) return ErrorPage(c, providerNav(session), 404, "Provider not found", `No provider '${session.providerId}'.`);
  const explorer = deps.cfg.explorerTxUrl;
  return renderPage(
    c,
    <Layout title={`Provider ${o.providerId}`} nav={providerNav(session)}>
      <dl class="cards" aria-label="Earnings">
        <div class="card">
          <dt>Requests served, last 30 days</dt>
          <dd id="requests-served">{count(o.range.requests)}</dd>
        </div>
        <div class="card">
          <dt>Earned, last 30 days</dt>
          <dd>{usdc(o.range.earnedPico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Earned, all time</dt>
          <dd id="earned">{usdc(o.earnedPico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Paid out</dt>
          <dd id="paid">{usdc(o.paidPico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Unpaid balance</dt>
          <dd id="unpaid">{usdc(o.unpaidPico)} USDC</dd>
        </div>
        <div class="card">
          <dt>Stake</dt>
          <dd>{o.stakeBase === null ? "—" : `${baseUsdc(o.stakeBase)} USDC`}</dd>
        </div>
        <div class="card">
          <dt>Reputation (success rate)</dt>
          <dd id="reputation">
            {o.successRate === null ? "—" : `${(o.successRate * 100).toFixed(1)} %`}
            {o.suspended ? ", suspended" : ""}
          </dd>
        </div>
        <div class="card">
          <dt>Median time to first token</dt>
          <dd>{o.range.p50TtftMs === null ? "—" : `${o.range.p50TtftMs} ms`}</dd>
        </div>
      </dl>

      <h2>Payouts</h2>
      <div class="table-wrap">
        <table>
          <caption>Settlement batches that pay this provider, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Period</th>
              <th scope="col">Batch</th>
              <th scope="col" class="num">
                Amount (USDC)
              </th>
              <th scope="col">Status</th>
              <th scope="col">Transaction</th>
              <th scope="col">Settled</th>
            </tr>
          </thead>
          <tbody>
            {o.payouts.length === 0 && (
              <tr>
                <td colspan={6} class="muted">
                  No payouts yet.
                </td>
              </tr>
            )}
            {o.payouts.map((p) => (
              <tr>
                <td>{p.periodId}</td>
                <td>
                  <code title={p.batchId}>{short(p.batchId)}</code>
                </td>
                <td class="num">{baseUsdc(p.amountBase)}</td>
                <td>{p.status}</td>
                <td>
                  <TxHash hash={p.txHash} explorer={explorer} />
                </td>
                <td>{when(p.settledAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Latency as the gateway measures it</h2>
      <div class="table-wrap">
        <table>
          <caption>Time to first token, time per output token and success rate, per edge location and model (moving averages)</caption>
          <thead>
            <tr>
              <th scope="col">Edge</th>
              <th scope="col">Model</th>
              <th scope="col" class="num">
                TTFT (ms)
              </th>
              <th scope="col" class="num">
                Per token (ms)
              </th>
              <th scope="col" class="num">
                Success
              </th>
              <th scope="col" class="num">
                Samples
              </th>
            </tr>
          </thead>
          <tbody>
            {o.latency.length === 0 && (
              <tr>
                <td colspan={6} class="muted">
                  No measurements yet.
                </td>
              </tr>
            )}
            {o.latency.map((l) => (
              <tr>
                <td>{l.edge}</td>
                <td>{l.model}</td>
                <td class="num">{l.ttftMs.toFixed(0)}</td>
                <td class="num">{l.tpotMs.toFixed(1)}</td>
                <td class="num">{(l.successRate * 100).toFixed(1)} %</td>
                <td class="num">{count(l.samples)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Recent receipts</h2>
      <div class="table-wrap">
        <table id="receipts">
          <caption>Receipts you signed, newest first; a settled one has a Merkle proof against its period's root</caption>
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Model</th>
              <th scope="col" class="num">
                Tokens
              </th>
              <th scope="col">Check</th>
              <th scope="col">Period</th>
              <th scope="col">Proof</th>
            </tr>
          </thead>
          <tbody>
            {o.recentReceipts.length === 0 && (
              <tr>
                <td colspan={6} class="muted">
                  No receipts yet.
                </td>
              </tr>
            )}
            {o.recentReceipts.map((x, i) => (
              <tr data-request-id={x.requestId}>
                <td>
                  <code>{x.requestId}</code>
                </td>
                <td>{x.model}</td>
                <td class="num">{count(x.promptTokens + x.completionTokens)}</td>
                <td>{x.status}</td>
                <td>{x.periodId ?? "open"}</td>
                <td>
                  {x.periodId === null ? (
                    <span class="muted">after settlement</span>
                  ) : (
                    <>
                      <button
                        type="button"
                        class="link"
                        data-proof-url={`/dashboard/provider/receipts/${encodeURIComponent(x.requestId)}/proof`}
                        data-target={`proof-${i}`}
                        aria-label={`Merkle proof of receipt ${x.requestId}`}
                      >
                        Merkle proof
                      </button>
                      <pre class="proof" id={`proof-${i}`} hidden aria-live="polite"></pre>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>,
  );
}

const session = requireSession("provider", "/dashboard/provider/sign-in");

export const providerDashboardRoutes = new Hono<AppEnv>()
  .route("/", providerSignInRoutes)
  .get("/", session, overviewPage)
  // The Merkle proof of one of this provider's receipts, as the signed GET /providers/v1/receipts/{id}/proof answers it.
  .get("/receipts/:id/proof", session, async (c) => {
    try {
      return c.json(await receiptProofFor(c.var.deps, c.req.param("id"), c.var.session.address));
    } catch (err) {
      if (err instanceof ApiError) return c.json(err.toJSON(), err.status as 404 | 409);
      throw err;
    }
  });
