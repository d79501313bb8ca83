/**
 * Finance views as HTTP JSON and CSV: snake_case, money as exact USDC decimal strings (never a
 * float), token counts and request counts as numbers, block numbers as strings.
 */
import type { ChainView } from "../../pipeline/finance/access";
import type {
  AccountSummary,
  DepositItem,
  LedgerItem,
  ProviderEarning,
  ProviderOverview,
  RequestTrace,
  SeriesPoint,
  SettlementItem,
  UsageRow,
} from "../../core/finance/views";
import { formatUsdc } from "../../core/money/units";
import { baseToPico } from "../../core/settlement/units";

const usdc = (pico: bigint) => formatUsdc(pico);
const baseUsdc = (base: bigint) => formatUsdc(baseToPico(base));
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** What a block's transaction looks like to a reader: its confirmations now and an explorer link. */
const confirmations = (block: bigint | null, v: ChainView) =>
  block === null || v.head === null ? null : v.head >= block ? Number(v.head - block + 1n) : 0;
const explorer = (txHash: string | null, v: ChainView) => (txHash && v.explorerTxUrl ? `${v.explorerTxUrl}${txHash}` : null);

export const usageRowJson = (r: UsageRow) => ({
  group: r.group,
  label: r.label,
  requests: r.requests,
  failed_requests: r.failedRequests,
  prompt_tokens: Number(r.promptTokens),
  completion_tokens: Number(r.completionTokens),
  total_tokens: Number(r.promptTokens + r.completionTokens),
  spend_usdc: usdc(r.costPico),
  fee_usdc: usdc(r.feePico),
  avg_price_per_mtok_usdc: r.avgPricePerMTokPico === null ? null : usdc(r.avgPricePerMTokPico),
  p50_ttft_ms: r.p50TtftMs,
});

export function usageTotalsJson(rows: readonly UsageRow[]) {
  const sum = (f: (r: UsageRow) => bigint) => rows.reduce((s, r) => s + f(r), 0n);
  const tokens = sum((r) => r.promptTokens + r.completionTokens);
  const cost = sum((r) => r.costPico);
  return {
    requests: rows.reduce((s, r) => s + r.requests, 0),
    failed_requests: rows.reduce((s, r) => s + r.failedRequests, 0),
    prompt_tokens: Number(sum((r) => r.promptTokens)),
    completion_tokens: Number(sum((r) => r.completionTokens)),
    total_tokens: Number(tokens),
    spend_usdc: usdc(cost),
    fee_usdc: usdc(sum((r) => r.feePico)),
  };
}

const CSV_COLUMNS = [
  "group",
  "label",
  "requests",
  "failed_requests",
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
  "spend_usdc",
  "fee_usdc",
  "avg_price_per_mtok_usdc",
  "p50_ttft_ms",
] as const;

/**
 * RFC 4180 CSV of the same rows as the JSON. A text cell that a spreadsheet would run as a formula
 * (key names are chosen by customers) is prefixed with an apostrophe.
 */
export function usageCsv(rows: readonly UsageRow[]): string {
  const cell = (v: string | number | null, text: boolean) => {
    let s = v === null ? "" : String(v);
    if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = rows.map((r) => {
    const j = usageRowJson(r);
    return CSV_COLUMNS.map((c) => cell(j[c], c === "group" || c === "label")).join(",");
  });
  return `${[CSV_COLUMNS.join(","), ...lines].join("\r\n")}\r\n`;
}

export const seriesJson = (p: SeriesPoint) => ({
  bucket: p.bucket,
  model: p.model,
  requests: p.requests,
  tokens: Number(p.tokens),
  spend_usdc: usdc(p.costPico),
});

export const summaryJson = (s: AccountSummary) => ({
  balance_usdc: usdc(s.balancePico),
  spend_24h_usdc: usdc(s.spend24hPico),
  spend_7d_usdc: usdc(s.spend7dPico),
  burn_rate_usdc_per_day: usdc(s.burnRatePicoPerDay),
  runway_days: s.runwayDays,
  top_keys: s.topKeys.map((k) => ({ key_id: k.keyId, name: k.name, prefix: k.prefix, requests: k.requests, spend_usdc: usdc(k.costPico) })),
});

export const ledgerJson = (e: LedgerItem) => ({
  id: e.id,
  kind: e.kind,
  reference: e.reference,
  account: e.account,
  amount_usdc: usdc(e.amountPico),
  created_at: e.createdAt.toISOString(),
});

export const depositJson = (d: DepositItem, v: ChainView) => ({
  chain_id: d.chainId,
  tx_hash: d.txHash,
  log_index: d.logIndex,
  block_number: d.blockNumber.toString(),
  account_id: d.accountId,
  account: d.account,
  from_address: d.fromAddress,
  amount_usdc: baseUsdc(d.amountBase),
  status: d.status,
  created_at: d.createdAt.toISOString(),
  confirmations: confirmations(d.blockNumber, v),
  explorer_url: explorer(d.txHash, v),
});

export const settlementJson = (b: SettlementItem, v: ChainView) => ({
  batch_id: b.batchId,
  period_id: b.periodId,
  part: b.part,
  cutoff: b.cutoff.toISOString(),
  merkle_root: b.merkleRoot,
  total_usdc: baseUsdc(b.totalBase),
  fee_usdc: baseUsdc(b.feeBase),
  payouts: b.payouts.map((p) => ({ provider_id: p.providerId, address: p.address, amount_usdc: baseUsdc(p.amountBase) })),
  status: b.status,
  tx_hash: b.txHash,
  block_number: b.blockNumber?.toString() ?? null,
  settled_at: iso(b.settledAt),
  confirmations: confirmations(b.blockNumber, v),
  explorer_url: explorer(b.txHash, v),
});

export const traceJson = (t: RequestTrace, v: ChainView) => ({
  request_id: t.usage.requestId,
  usage: {
    key_id: t.usage.keyId,
    account_id: t.usage.accountId,
    provider_id: t.usage.providerId,
    model: t.usage.model,
    endpoint: t.usage.endpoint,
    stream: t.usage.stream,
    status: t.usage.status,
    error_code: t.usage.errorCode,
    prompt_tokens: t.usage.promptTokens,
    completion_tokens: t.usage.completionTokens,
    cost_usdc: usdc(t.usage.costPico),
    fee_usdc: usdc(t.usage.feePico),
    receipt_status: t.usage.receiptStatus,
    ttft_ms: t.usage.ttftMs,
    duration_ms: t.usage.durationMs,
    edge: t.usage.edge,
    attempts: t.usage.attempts,
    created_at: t.usage.createdAt.toISOString(),
  },
  receipt: t.receipt && {
    provider_id: t.receipt.providerId,
    signer: t.receipt.signer,
    model: t.receipt.model,
    prompt_tokens: t.receipt.promptTokens,
    completion_tokens: t.receipt.completionTokens,
    input_price_usdc_per_mtok: formatUsdc(t.receipt.inputPrice * 1_000_000n),
    output_price_usdc_per_mtok: formatUsdc(t.receipt.outputPrice * 1_000_000n),
    response_hash: t.receipt.responseHash,
    digest: t.receipt.digest,
    signature: t.receipt.signature,
    source: t.receipt.source,
    status: t.receipt.status,
    period_id: t.receipt.periodId,
    signed_at: new Date(t.receipt.signedAtMs).toISOString(),
  },
  ledger: t.ledger.map(ledgerJson),
  period: t.period && {
    id: t.period.id,
    cutoff: t.period.cutoff.toISOString(),
    merkle_root: t.period.merkleRoot,
    receipts: t.period.receiptCount,
    status: t.period.status,
    settled_at: iso(t.period.settledAt),
  },
  batches: t.batches.map((b) => settlementJson(b, v)),
});

export const earningJson = (p: ProviderEarning) => ({
  provider_id: p.providerId,
  address: p.address,
  earned_usdc: usdc(p.earnedPico),
  paid_usdc: usdc(p.paidPico),
  unpaid_usdc: usdc(p.unpaidPico),
  requests: p.requests,
  stake_usdc: p.stakeBase === null ? null : baseUsdc(p.stakeBase),
});

export const providerOverviewJson = (o: ProviderOverview, v: ChainView) => ({
  ...earningJson(o),
  suspended: o.suspended,
  range: {
    from: o.range.from.toISOString(),
    to: o.range.to.toISOString(),
    requests: o.range.requests,
    failed_requests: o.range.failedRequests,
    prompt_tokens: Number(o.range.promptTokens),
    completion_tokens: Number(o.range.completionTokens),
    earned_usdc: usdc(o.range.earnedPico),
    p50_ttft_ms: o.range.p50TtftMs,
  },
  daily: o.daily.map((d) => ({ day: d.bucket, requests: d.requests, earned_usdc: usdc(d.earnedPico) })),
  payouts: o.payouts.map((p) => ({
    batch_id: p.batchId,
    period_id: p.periodId,
    amount_usdc: baseUsdc(p.amountBase),
    status: p.status,
    tx_hash: p.txHash,
    block_number: p.blockNumber?.toString() ?? null,
    settled_at: iso(p.settledAt),
    confirmations: confirmations(p.blockNumber, v),
    explorer_url: explorer(p.txHash, v),
  })),
  latency: o.latency.map((l) => ({
    edge: l.edge,
    model: l.model,
    ttft_ms: l.ttftMs,
    tpot_ms: l.tpotMs,
    success_rate: l.successRate,
    samples: l.samples,
    updated_at: l.updatedAt.toISOString(),
  })),
  success_rate: o.successRate,
  recent_receipts: o.recentReceipts.map((x) => ({
    request_id: x.requestId,
    model: x.model,
    prompt_tokens: x.promptTokens,
    completion_tokens: x.completionTokens,
    status: x.status,
    period_id: x.periodId,
    created_at: x.createdAt.toISOString(),
  })),
});
