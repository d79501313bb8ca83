/**
 * One request from end to end: request → the provider's signed receipt → ledger postings → the
 * settlement period and batch → the L2 transaction. Another account's request answers exactly as
 * a missing one does: a 404 page.
 */
import type { Context } from "hono";
import { formatUsdc } from "../../../core/money/units";
import { baseUsdc, count, short, TxHash, usdc, when } from "./format";
import { ErrorPage, financeNav, Layout, renderPage } from "./layout";
import { scopeOf } from "./params";
import type { DashEnv, FinanceSession } from "./session";

type Ctx = Context<DashEnv<FinanceSession>>;

/** The search box in the header: GET /dashboard/requests?id=… */
export const findRequest = (c: Ctx) => {
  const id = (c.req.query("id") ?? "").trim();
  return c.redirect(id ? `/dashboard/requests/${encodeURIComponent(id)}` : "/dashboard", 303);
};

export async function tracePage(c: Ctx) {
  const { deps, session } = c.var;
  const id = c.req.param("id") ?? "";
  const nav = financeNav(session, "");
  const trace = id.length <= 200 ? await deps.finance.requestTrace(scopeOf(session), id) : null;
  if (!trace)
    return ErrorPage(
      c,
      nav,
      404,
      "Request not found",
      `No request '${id.slice(0, 200)}' in ${session.scope === "all" ? "any account" : "this account"}.`,
    );
  const { usage: u, receipt: r, ledger, period, batches } = trace;
  const explorer = deps.cfg.explorerTxUrl;
  const Row = ({ k, children }: { k: string; children: unknown }) => (
    <>
      <dt>{k}</dt>
      <dd>{children}</dd>
    </>
  );
  return renderPage(
    c,
    <Layout title={`Request ${u.requestId}`} nav={nav}>
      <ol class="steps" aria-label="The request's trail">
        <li id="step-request">
          <h2>1. Request</h2>
          <dl>
            <Row k="Time">{when(u.createdAt)}</Row>
            <Row k="Model">
              {u.model} ({u.endpoint}
              {u.stream ? ", streamed" : ""})
            </Row>
            <Row k="Key">{u.keyId}</Row>
            <Row k="Provider">
              {u.providerId ?? "none"} after {u.attempts} attempt{u.attempts === 1 ? "" : "s"}
            </Row>
            <Row k="Outcome">
              {u.status}
              {u.errorCode ? ` (${u.errorCode})` : ""}
            </Row>
            <Row k="Tokens">
              {count(u.promptTokens)} prompt + {count(u.completionTokens)} completion
            </Row>
            <Row k="Cost">
              {usdc(u.costPico)} USDC, of which the protocol fee {usdc(u.feePico)} USDC
            </Row>
            <Row k="Latency">
              {u.ttftMs === null ? "—" : `${u.ttftMs} ms to first token`}, {u.durationMs} ms in all
            </Row>
          </dl>
        </li>
        <li id="step-receipt">
          <h2>2. Provider's signed receipt</h2>
          {r ? (
            <dl>
              <Row k="Signer">
                <code id="receipt-signer">{r.signer}</code>
              </Row>
              <Row k="Digest (Merkle leaf)">
                <code id="receipt-digest">{r.digest}</code>
              </Row>
              <Row k="Signed counts">
                {count(r.promptTokens)} prompt + {count(r.completionTokens)} completion at {formatUsdc(r.inputPrice * 1_000_000n)} /{" "}
                {formatUsdc(r.outputPrice * 1_000_000n)} USDC per M tokens
              </Row>
              <Row k="Check">
                {r.status} ({r.source}), signed {when(new Date(r.signedAtMs))}
              </Row>
            </dl>
          ) : (
            <p class="muted">No receipt (yet): a failed request has none; one in flight arrives from the provider's outbox.</p>
          )}
        </li>
        <li id="step-ledger">
          <h2>3. Ledger entries</h2>
          <div class="table-wrap">
            <table>
              <caption>Postings of this request's transactions (they sum to zero)</caption>
              <thead>
                <tr>
                  <th scope="col">Entry</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Account</th>
                  <th scope="col" class="num">
                    Amount (USDC)
                  </th>
                  <th scope="col">Time</th>
                </tr>
              </thead>
              <tbody>
                {ledger.length === 0 && (
                  <tr>
                    <td colspan={5} class="muted">
                      Nothing was charged.
                    </td>
                  </tr>
                )}
                {ledger.map((e) => (
                  <tr>
                    <td>{e.id}</td>
                    <td>{e.kind}</td>
                    <td>
                      <code>{e.account}</code>
                    </td>
                    <td class="num">{usdc(e.amountPico)}</td>
                    <td>{when(e.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </li>
        <li id="step-settlement">
          <h2>4. Settlement</h2>
          {period ? (
            <>
              <dl>
                <Row k="Period">
                  {period.id}, receipts up to {when(period.cutoff)} ({count(period.receiptCount)} receipts), {period.status}
                </Row>
                <Row k="Merkle root">
                  <code>{period.merkleRoot}</code>
                </Row>
              </dl>
              <ul>
                {batches.map((b) => (
                  <li class="batch">
                    Batch{" "}
                    <a href={`/dashboard/settlements#batch-${b.batchId}`}>
                      <code class="batch-id">{short(b.batchId)}</code>
                    </a>{" "}
                    (part {b.part}, {b.status}): {baseUsdc(b.totalBase)} USDC to {b.payouts.map((p) => p.providerId).join(", ")}
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <p class="muted">Not settled yet: the receipt joins the next settlement period.</p>
          )}
        </li>
        <li id="step-transaction">
          <h2>5. Transaction on the L2</h2>
          {batches.length === 0 ? (
            <p class="muted">No transaction yet.</p>
          ) : (
            <ul>
              {batches.map((b) => (
                <li>
                  Batch {short(b.batchId)}: <TxHash hash={b.txHash} explorer={explorer} />
                  {b.blockNumber !== null && <> in block {b.blockNumber.toString()}</>}
                  {b.settledAt && <>, settled {when(b.settledAt)}</>}
                </li>
              ))}
            </ul>
          )}
        </li>
      </ol>
    </Layout>,
  );
}
