import { describe, expect, it } from "vitest";
import type { SettlementItem, UsageRow } from "../../core/finance/views";
import { settlementJson, usageCsv, usageRowJson, usageTotalsJson } from "./finance-format";

const row = (over: Partial<UsageRow> = {}): UsageRow => ({
  group: "k1",
  label: "ci key",
  requests: 3,
  failedRequests: 1,
  promptTokens: 1_000n,
  completionTokens: 500n,
  costPico: 123_456_789_012_345n,
  feePico: 6_172_839_450_617n,
  avgPricePerMTokPico: 82_304_526_008_230_000n,
  p50TtftMs: 150,
  ...over,
});

describe("usage as JSON and CSV", () => {
  it("writes money as exact USDC decimal strings and counts as numbers", () => {
    expect(usageRowJson(row())).toEqual({
      group: "k1",
      label: "ci key",
      requests: 3,
      failed_requests: 1,
      prompt_tokens: 1000,
      completion_tokens: 500,
      total_tokens: 1500,
      spend_usdc: "123.456789012345",
      fee_usdc: "6.172839450617",
      avg_price_per_mtok_usdc: "82304.52600823",
      p50_ttft_ms: 150,
    });
    expect(usageTotalsJson([row(), row({ costPico: 1n, feePico: 0n, requests: 1, failedRequests: 0 })])).toMatchObject({
      requests: 4,
      failed_requests: 1,
      total_tokens: 3000,
      spend_usdc: "123.456789012346",
    });
  });

  it("quotes what needs quoting and defuses spreadsheet formulas in text cells", () => {
    const csv = usageCsv([row({ label: 'ops, "north"' }), row({ label: "=HYPERLINK(1)", avgPricePerMTokPico: null, p50TtftMs: null })]);
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(
      "group,label,requests,failed_requests,prompt_tokens,completion_tokens,total_tokens,spend_usdc,fee_usdc,avg_price_per_mtok_usdc,p50_ttft_ms",
    );
    expect(lines[1]).toBe('k1,"ops, ""north""",3,1,1000,500,1500,123.456789012345,6.172839450617,82304.52600823,150');
    expect(lines[2]).toBe("k1,'=HYPERLINK(1),3,1,1000,500,1500,123.456789012345,6.172839450617,,");
    expect(lines[3]).toBe("");
    expect(usageCsv([])).toBe(`${lines[0]}\r\n`);
  });
});

describe("settlements", () => {
  const batch: SettlementItem = {
    batchId: "0xb1",
    periodId: 7,
    part: 0,
    cutoff: new Date(0),
    merkleRoot: "0xr",
    totalBase: 1_500_001n,
    feeBase: 1n,
    payouts: [{ providerId: "p", address: "0xa", amountBase: 1_500_000n }],
    status: "settled",
    txHash: "0xt",
    blockNumber: 100n,
    settledAt: null,
  };
  it("counts confirmations from the chain head (the block itself is the first) and links the explorer", () => {
    expect(settlementJson(batch, { head: 104n, explorerTxUrl: "https://basescan.org/tx/" })).toMatchObject({
      total_usdc: "1.500001",
      fee_usdc: "0.000001",
      payouts: [{ provider_id: "p", amount_usdc: "1.5" }],
      block_number: "100",
      confirmations: 5,
      explorer_url: "https://basescan.org/tx/0xt",
    });
    expect(settlementJson(batch, { head: null, explorerTxUrl: null })).toMatchObject({ confirmations: null, explorer_url: null });
    expect(settlementJson({ ...batch, txHash: null, blockNumber: null }, { head: 104n, explorerTxUrl: "https://x/tx/" })).toMatchObject({
      confirmations: null,
      explorer_url: null,
    });
  });
});
