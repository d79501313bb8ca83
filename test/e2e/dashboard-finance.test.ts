/**
 * The finance dashboard in a real (headless) Chromium against the local network: sign-in into a
 * strict session cookie, charts and totals equal to the Finance API's, the CSV download, and the
 * request trace down to the L2 transaction. Screenshots of each page go to artifacts/screenshots/.
 */
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { screenshot } from "../support/browser";
import {
  closeDashboard,
  dev,
  finance,
  json,
  seedDashboard,
  sessionCookie,
  signedIn,
  text,
  waitText,
  type DashboardWorld,
} from "../support/dashboard";

let world: DashboardWorld | undefined;
let browser: Browser;
/** Account A (the developer account) requests, each metered, with a receipt, and settled. */
let ids: string[] = [];

beforeAll(async () => {
  world = await seedDashboard("finance");
  ({ browser, ids } = world);
}, 90_000);

afterAll(() => closeDashboard(world));

describe("finance dashboard", () => {
  it("signs in with a finance key into a Secure, HttpOnly, SameSite=Strict session cookie", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(dev.dashboardURL);
    expect(page.url()).toBe(`${dev.dashboardURL}/sign-in`);
    expect(first!.headers()["content-security-policy"]).toContain("script-src 'self'");
    await screenshot(page, "sign-in");

    await page.getByLabel("Finance API key").fill(dev.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await waitText(page.getByRole("alert"), "needs a finance key");

    await page.getByLabel("Finance API key").fill(dev.financeKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(dev.dashboardURL);
    expect(page.url()).not.toContain(dev.financeKey);
    expect(await sessionCookie(context)).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/dashboard" });
    expect(await page.evaluate(() => JSON.stringify(localStorage) + document.cookie)).not.toContain("mg-");
    await context.close();
  });

  it("draws spend and tokens stacked by model, with totals equal to the Finance API's", async () => {
    const { context, page } = await signedIn(browser, dev.financeKey);
    // Anything the CSP blocked, or a script error, shows up here.
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    await page.reload();
    await page.waitForFunction(() => {
      const w = window as unknown as { Chart?: { getChart(c: Element | null): unknown } };
      return !!w.Chart?.getChart(document.getElementById("spend-chart")) && !!w.Chart.getChart(document.getElementById("tokens-chart"));
    });
    const charts = await page.evaluate(() => {
      const { Chart } = window as unknown as {
        Chart: { getChart(c: Element | null): { data: { labels: string[]; datasets: { label: string; data: number[] }[] } } };
      };
      const sum = (id: string) =>
        Chart.getChart(document.getElementById(id))
          .data.datasets.flatMap((d) => d.data)
          .reduce((s, v) => s + v, 0);
      return {
        spend: sum("spend-chart"),
        tokens: sum("tokens-chart"),
        models: Chart.getChart(document.getElementById("spend-chart")).data.datasets.map((d) => d.label),
      };
    });
    const range = page.locator("#range");
    const from = await range.getAttribute("data-from");
    const to = await range.getAttribute("data-to");
    const api = await json<{ totals: { requests: number; total_tokens: number; spend_usdc: string }; data: { group: string }[] }>(
      finance(dev.financeKey, `/usage?group_by=model&from=${from}&to=${to}`),
    );
    expect(api.totals.requests).toBeGreaterThanOrEqual(ids.length);

    expect(await page.locator("#total-requests").getAttribute("data-value")).toBe(String(api.totals.requests));
    expect(await page.locator("#total-tokens").getAttribute("data-value")).toBe(String(api.totals.total_tokens));
    expect(await text(page.locator("#total-spend"))).toBe(`${api.totals.spend_usdc} USDC`);
    expect(charts.tokens).toBe(api.totals.total_tokens);
    expect(charts.spend).toBeCloseTo(Number(api.totals.spend_usdc), 9);
    expect(charts.models.sort()).toEqual(api.data.map((r) => r.group).sort());
    expect(charts.models).toContain(dev.embeddingModel);

    const summary = await json<{ balance_usdc: string; burn_rate_usdc_per_day: string }>(finance(dev.financeKey, "/summary"));
    expect(await text(page.locator("#balance"))).toBe(`${summary.balance_usdc} USDC`);
    expect(await text(page.locator("#burn-rate"))).toBe(`${summary.burn_rate_usdc_per_day} USDC/day`);
    expect(await text(page.getByRole("table", { name: /keys that spent most/ }))).toContain("dev inference");
    await screenshot(page, "overview");
    expect(problems).toEqual([]);
    // The CSP in action: an injected inline script does not run.
    await page.addScriptTag({ content: "window.inlineRan = true" }).catch(() => undefined);
    expect(await page.evaluate(() => (window as unknown as { inlineRan?: boolean }).inlineRan)).toBeUndefined();

    // A phone: one column, nothing cut off sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.waitForFunction(
      () =>
        !!(window as unknown as { Chart?: { getChart(c: Element | null): unknown } }).Chart?.getChart(
          document.getElementById("spend-chart"),
        ),
    );
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, "overview-phone");
    await context.close();
  });

  it("filters usage and downloads the same CSV as /finance/v1/usage?format=csv", async () => {
    const { context, page } = await signedIn(browser, dev.financeKey);
    await page.goto(`${dev.dashboardURL}/usage`);
    await page.getByLabel("Group by").selectOption("model");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/group_by=model/);
    const href = await page.locator("#csv-link").getAttribute("href");
    const query = new URL(href!, dev.gatewayURL).search;
    const api = await json<{ data: { group: string; requests: number }[]; totals: { spend_usdc: string } }>(
      finance(dev.financeKey, `/usage${query}`),
    );
    expect(await page.locator("#usage-table tbody tr").count()).toBe(api.data.length);
    expect(await text(page.locator("#usage-total-spend"))).toBe(api.totals.spend_usdc);
    await screenshot(page, "usage");

    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#csv-link").click()]);
    const csv = readFileSync((await download.path())!, "utf8");
    expect(download.suggestedFilename()).toMatch(/^meshgate-usage-by-model-.*\.csv$/);
    const apiCsv = await (await finance(dev.financeKey, `/usage${query}&format=csv`)).text();
    expect(csv).toBe(apiCsv);
    const [header, ...lines] = csv.trim().split("\r\n");
    expect(header!.split(",")).toContain("spend_usdc");
    expect(lines.map((l) => l.split(",")[0])).toEqual(api.data.map((r) => r.group));
    const requests = header!.split(",").indexOf("requests");
    expect(lines.reduce((s, l) => s + Number(l.split(",")[requests]), 0)).toBe(api.data.reduce((s, r) => s + r.requests, 0));

    // One model only: the filter narrows the table and the CSV alike.
    await page.goto(`${dev.dashboardURL}/usage?group_by=provider&model=${encodeURIComponent(dev.embeddingModel)}`);
    const narrowed = await json<{ data: { group: string }[] }>(
      finance(dev.financeKey, `/usage?group_by=provider&model=${encodeURIComponent(dev.embeddingModel)}`),
    );
    expect(narrowed.data.map((r) => r.group)).toEqual(["sim-b"]);
    expect(await page.locator("#usage-table tbody tr").count()).toBe(1);
    await context.close();
  });

  it("lists deposits and settlement batches, and traces a request to its receipt, ledger entries, batch and transaction", async () => {
    const { context, page } = await signedIn(browser, dev.financeKey);
    const deposits = await json<{ data: { tx_hash: string }[] }>(finance(dev.financeKey, "/deposits"));
    expect(deposits.data.length).toBeGreaterThan(0);
    await page.goto(`${dev.dashboardURL}/deposits`);
    expect(await text(page.getByRole("table", { name: /deposited/ }))).toContain(deposits.data[0]!.tx_hash);
    await screenshot(page, "deposits");

    const trace = await json<{
      receipt: { signer: string; digest: string };
      ledger: { id: number }[];
      batches: { batch_id: string; tx_hash: string; status: string; explorer_url: string | null }[];
    }>(finance(dev.financeKey, `/requests/${ids[0]}`));
    expect(trace.batches.length).toBeGreaterThan(0);
    const paid = trace.batches[0]!;
    expect(paid.status).toBe("settled");

    await page.goto(`${dev.dashboardURL}/settlements`);
    expect(await text(page.locator(`[id="batch-${paid.batch_id}"]`))).toContain(paid.tx_hash);
    await screenshot(page, "settlements");

    // From the header's search box to the trace page.
    await page.goto(dev.dashboardURL);
    await page.getByLabel("Request id").fill(ids[0]!);
    await page.getByLabel("Request id").press("Enter");
    await page.waitForURL(`${dev.dashboardURL}/requests/${ids[0]}`);
    expect(await text(page.locator("#receipt-signer"))).toBe(trace.receipt.signer);
    expect(await text(page.locator("#receipt-digest"))).toBe(trace.receipt.digest);
    expect(await page.locator("#step-ledger tbody tr").count()).toBe(trace.ledger.length);
    const batchLink = page.locator("#step-settlement a", { hasText: paid.batch_id.slice(0, 10) });
    expect(await batchLink.getAttribute("href")).toBe(`/dashboard/settlements#batch-${paid.batch_id}`);
    // No EXPLORER_TX_URL locally: the hash is shown, not linked.
    expect(paid.explorer_url).toBeNull();
    expect(await text(page.locator("#step-transaction"))).toContain(paid.tx_hash);
    expect(await page.locator("#step-transaction a").count()).toBe(0);
    await screenshot(page, "trace");

    await batchLink.click();
    await page.waitForURL(`${dev.dashboardURL}/settlements#batch-${paid.batch_id}`);
    await context.close();
  });
});
