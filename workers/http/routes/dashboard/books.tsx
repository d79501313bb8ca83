/** Deposits, settlement batches (with their transactions), and the providers' earnings (operators only). */
import type { Context } from "hono";
import { baseUsdc, count, short, TxHash, usdc, when } from "./format";
import { ErrorPage, financeNav, Layout, renderPage } from "./layout";
import { queryString, scopeOf } from "./params";
import type { DashEnv, FinanceSession } from "./session";

const PAGE = 50;
type Ctx = Context<DashEnv<FinanceSession>>;

export async function depositsPage(c: Ctx) {
  const { deps, session } = c.var;
  const before = c.req.query("before");
  const cursor = before && /^\d{1,20}:\d{1,9}$/.test(before) ? before : undefined;
  const page = await deps.finance.depositList(scopeOf(session), { limit: PAGE, before: cursor });
  const explorer = deps.cfg.explorerTxUrl;
  return renderPage(
    c,
    <Layout title="Deposits" nav={financeNav(session, "/dashboard/deposits")}>
      <div class="table-wrap">
        <table>
          <caption>USDC deposited into the Settlement contract, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col" class="num">
                Amount (USDC)
              </th>
              <th scope="col">From</th>
              <th scope="col">Transaction</th>
              <th scope="col" class="num">
                Block
              </th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {page.entries.length === 0 && (
              <tr>
                <td colspan={6} class="muted">
                  No deposits yet.
                </td>
              </tr>
            )}
            {page.entries.map((d) => (
              <tr>
                <td>{when(d.createdAt)}</td>
                <td class="num">{baseUsdc(d.amountBase)}</td>
                <td>
                  <code title={d.fromAddress}>{short(d.fromAddress)}</code>
                </td>
                <td>
                  <TxHash hash={d.txHash} explorer={explorer} /> <span class="muted">log {d.logIndex}</span>
                </td>
                <td class="num">{d.blockNumber.toString()}</td>
                <td>{d.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.nextBefore && (
        <p>
          <a href={`/dashboard/deposits${queryString({ before: page.nextBefore })}`}>Older deposits →</a>
        </p>
      )}
    </Layout>,
  );
}

export async function settlementsPage(c: Ctx) {
  const { deps, session } = c.var;
  const batches = await deps.finance.settlementList(scopeOf(session), { limit: PAGE });
  const explorer = deps.cfg.explorerTxUrl;
  return renderPage(
    c,
    <Layout title="Settlement batches" nav={financeNav(session, "/dashboard/settlements")}>
      <p class="muted">
        {session.scope === "all" ? "Every batch" : "The batches of the periods that include your requests"}: each pays providers on the L2
        in one transaction and commits the period's receipts by their Merkle root.
      </p>
      <div class="table-wrap">
        <table>
          <caption>Settlement batches, newest period first</caption>
          <thead>
            <tr>
              <th scope="col">Period / part</th>
              <th scope="col">Cutoff</th>
              <th scope="col">Batch</th>
              <th scope="col">Merkle root</th>
              <th scope="col" class="num">
                Total (USDC)
              </th>
              <th scope="col" class="num">
                Fee (USDC)
              </th>
              <th scope="col">Payouts</th>
              <th scope="col">Status</th>
              <th scope="col">Transaction</th>
              <th scope="col" class="num">
                Block
              </th>
            </tr>
          </thead>
          <tbody>
            {batches.length === 0 && (
              <tr>
                <td colspan={10} class="muted">
                  No settlement batches yet.
                </td>
              </tr>
            )}
            {batches.map((b) => (
              <tr id={`batch-${b.batchId}`}>
                <td>
                  {b.periodId} / {b.part}
                </td>
                <td>{when(b.cutoff)}</td>
                <td>
                  <code title={b.batchId}>{short(b.batchId)}</code>
                </td>
                <td>
                  <code title={b.merkleRoot}>{short(b.merkleRoot)}</code>
                </td>
                <td class="num">{baseUsdc(b.totalBase)}</td>
                <td class="num">{baseUsdc(b.feeBase)}</td>
                <td>{b.payouts.map((p) => `${p.providerId} ${baseUsdc(p.amountBase)}`).join(", ")}</td>
                <td>{b.status}</td>
                <td>
                  <TxHash hash={b.txHash} explorer={explorer} />
                </td>
                <td class="num">{b.blockNumber?.toString() ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>,
  );
}

export async function providersPage(c: Ctx) {
  const { deps, session } = c.var;
  const nav = financeNav(session, "/dashboard/providers");
  if (session.scope !== "all") {
    return ErrorPage(c, nav, 403, "Not available", "Provider earnings are for an operator's finance key (scope 'all').");
  }
  const rows = await deps.finance.providerEarnings();
  return renderPage(
    c,
    <Layout title="Provider earnings" nav={nav}>
      <div class="table-wrap">
        <table>
          <caption>What each provider earned (cost less the protocol fee), was paid by settled batches, and is owed</caption>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Wallet</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Earned (USDC)
              </th>
              <th scope="col" class="num">
                Paid (USDC)
              </th>
              <th scope="col" class="num">
                Unpaid (USDC)
              </th>
              <th scope="col" class="num">
                Stake (USDC)
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colspan={7} class="muted">
                  No providers registered.
                </td>
              </tr>
            )}
            {rows.map((p) => (
              <tr data-provider={p.providerId}>
                <th scope="row">{p.providerId}</th>
                <td>{p.address ? <code title={p.address}>{short(p.address)}</code> : "—"}</td>
                <td class="num">{count(p.requests)}</td>
                <td class="num">{usdc(p.earnedPico)}</td>
                <td class="num">{usdc(p.paidPico)}</td>
                <td class="num">{usdc(p.unpaidPico)}</td>
                <td class="num">{p.stakeBase === null ? "—" : baseUsdc(p.stakeBase)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>,
  );
}
