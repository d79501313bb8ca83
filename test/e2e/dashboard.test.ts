/**
 * The dashboard in a real (headless) Chromium against the local network: finance sign-in, charts
 * and totals equal to the Finance API's, the CSV download, the request trace down to the L2
 * transaction, tenant isolation, sign-out, and the provider's wallet sign-in. Screenshots of each
 * page go to artifacts/screenshots/.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser, screenshot } from "../helpers/browser";
import { walletKeyOf } from "../helpers/chain";
import { admin, byId, resetNetwork, sdk } from "../helpers/network-client";

const dev = inject("dev");
const client = sdk(dev);
let browser: Browser;
let db: pg.Client;
/** Account A (the developer account) requests, each metered, with a receipt, and settled. */
let ids: string[] = [];
let other: { accountId: string; financeKey: string; financeKeyId: string };
/** The network's operator finance key (scope "all"), from dev.json. */
const operatorKey = dev.operatorFinanceKey;

async function json<T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> {
  const r = await res;
  const text = await r.text();
  if (!r.ok) throw new Error(`${r.url} → ${r.status}: ${text}`);
  return JSON.parse(text) as T;
}

const finance = (key: string, path: string) => fetch(`${dev.gatewayURL}/finance/v1${path}`, { headers: { authorization: `Bearer ${key}` } });

/** Chat (streamed and not) and embeddings as account A; resolves once each is metered and has its receipt. */
async function traffic(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const ask = { model: dev.model, messages: [{ role: "user" as const, content: `dashboard ${i}` }], max_tokens: 30 };
    if (i % 3 === 0) out.push((await client.chat.completions.create(ask).withResponse()).response.headers.get("x-request-id")!);
    else if (i % 3 === 1) {
      const { data, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
      for await (const _ of data) { /* drain */ }
      out.push(response.headers.get("x-request-id")!);
    } else out.push((await client.embeddings.create({ model: dev.embeddingModel, input: [`dashboard ${i}`] }).withResponse()).response.headers.get("x-request-id")!);
  }
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query("select count(*)::int as n from usage_events u join receipts r using (request_id) where u.request_id = any($1)", [out]);
    if ((rows[0] as { n: number }).n === out.length) return out;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("usage events and receipts were not written in time");
}

async function newKey(accountId: string, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  return json(admin(dev, "POST", "/admin/v1/keys", { account_id: accountId, ...body }));
}

/** A browser context signed in with a finance key (the form, as a person would). */
async function signedIn(key: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${dev.dashboardURL}/sign-in`);
  await page.getByLabel("Finance API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${dev.dashboardURL}`);
  return { context, page };
}

/** The element's text, trimmed (waits for it to be there). */
const text = async (l: Locator) => (await l.first().innerText()).trim();
/** Waits until the element shows `s` (for what the page's script fills in, or after a navigation). */
const waitText = (l: Locator, s: string) => l.filter({ hasText: s }).first().waitFor({ timeout: 15_000 });

const sessionCookie = async (context: BrowserContext) => (await context.cookies()).find((c) => c.name === "mg_session");

beforeAll(async () => {
  browser = await launchBrowser();
  db = new pg.Client({ connectionString: dev.databaseUrl });
  await db.connect();
  await resetNetwork(dev);
  ids = await traffic(6);
  // Close a settlement period: every request above is committed by its root and paid on the L2.
  const settled = await json<{ data?: { status: string }; status?: string }>(admin(dev, "POST", "/admin/v1/jobs/settlement/run?wait_ms=20000"));
  expect((settled.data ?? settled).status).toBe("settled");

  const account = await json<{ id: string }>(admin(dev, "POST", "/admin/v1/accounts", { name: "Dashboard tenant B" }));
  const key = await newKey(account.id, { role: "finance", name: "tenant B finance" });
  other = { accountId: account.id, financeKey: key.secret, financeKeyId: key.id };
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await db?.end();
});

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
    const { context, page } = await signedIn(dev.financeKey);
    // Anything the CSP blocked, or a script error, shows up here.
    const problems: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    page.on("pageerror", (e) => problems.push(e.message));
    await page.reload();
    await page.waitForFunction(() => {
      const w = window as unknown as { Chart?: { getChart(c: Element | null): unknown } };
      return !!w.Chart?.getChart(document.getElementById("spend-chart")) && !!w.Chart.getChart(document.getElementById("tokens-chart"));
    });
    const charts = await page.evaluate(() => {
      const { Chart } = window as unknown as { Chart: { getChart(c: Element | null): { data: { labels: string[]; datasets: { label: string; data: number[] }[] } } } };
      const sum = (id: string) => Chart.getChart(document.getElementById(id)).data.datasets.flatMap((d) => d.data).reduce((s, v) => s + v, 0);
      return { spend: sum("spend-chart"), tokens: sum("tokens-chart"), models: Chart.getChart(document.getElementById("spend-chart")).data.datasets.map((d) => d.label) };
    });
    const range = page.locator("#range");
    const from = await range.getAttribute("data-from");
    const to = await range.getAttribute("data-to");
    const api = await json<{ totals: { requests: number; total_tokens: number; spend_usdc: string }; data: { group: string }[] }>(
      finance(dev.financeKey, `/usage?group_by=model&from=${from}&to=${to}`));
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
    await page.waitForFunction(() => !!(window as unknown as { Chart?: { getChart(c: Element | null): unknown } }).Chart?.getChart(document.getElementById("spend-chart")));
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, "overview-phone");
    await context.close();
  });

  it("filters usage and downloads the same CSV as /finance/v1/usage?format=csv", async () => {
    const { context, page } = await signedIn(dev.financeKey);
    await page.goto(`${dev.dashboardURL}/usage`);
    await page.getByLabel("Group by").selectOption("model");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/group_by=model/);
    const href = await page.locator("#csv-link").getAttribute("href");
    const query = new URL(href!, dev.gatewayURL).search;
    const api = await json<{ data: { group: string; requests: number }[]; totals: { spend_usdc: string } }>(finance(dev.financeKey, `/usage${query}`));
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
    const narrowed = await json<{ data: { group: string }[] }>(finance(dev.financeKey, `/usage?group_by=provider&model=${encodeURIComponent(dev.embeddingModel)}`));
    expect(narrowed.data.map((r) => r.group)).toEqual(["sim-b"]);
    expect(await page.locator("#usage-table tbody tr").count()).toBe(1);
    await context.close();
  });

  it("lists deposits and settlement batches, and traces a request to its receipt, ledger entries, batch and transaction", async () => {
    const { context, page } = await signedIn(dev.financeKey);
    const deposits = await json<{ data: { tx_hash: string }[] }>(finance(dev.financeKey, "/deposits"));
    expect(deposits.data.length).toBeGreaterThan(0);
    await page.goto(`${dev.dashboardURL}/deposits`);
    expect(await text(page.getByRole("table", { name: /deposited/ }))).toContain(deposits.data[0]!.tx_hash);
    await screenshot(page, "deposits");

    const trace = await json<{
      receipt: { signer: string; digest: string }; ledger: { id: number }[];
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

describe("tenant isolation", () => {
  it("another account's session sees none of A's data, and A's request trace is a 404 page", async () => {
    const { context, page } = await signedIn(other.financeKey);
    expect(await page.locator("#total-requests").getAttribute("data-value")).toBe("0");
    const overview = await page.content();
    expect(overview).not.toContain("dev inference");

    const res = await page.goto(`${dev.dashboardURL}/requests/${ids[0]}`);
    expect(res!.status()).toBe(404);
    expect(await text(page.getByRole("heading", { level: 1 }))).toBe("Request not found");
    await screenshot(page, "trace-not-found");

    for (const path of ["/usage?group_by=key", "/deposits", "/settlements"]) {
      await page.goto(`${dev.dashboardURL}${path}`);
      const html = await page.content();
      for (const id of ids) expect(html, path).not.toContain(id);
      expect(html, path).not.toContain("dev inference");
      expect(await page.locator("tbody tr td.muted").count(), path).toBe(1); // the "nothing yet" row
    }
    const csv = await page.evaluate(async () => (await fetch("/dashboard/usage.csv")).text());
    expect(csv.trim().split("\r\n")).toHaveLength(1);
    expect((await page.goto(`${dev.dashboardURL}/providers`))!.status()).toBe(403);

    expect((await finance(other.financeKey, `/requests/${ids[0]}`)).status).toBe(404);
    await context.close();
  });

  it("an operator's finance key sees every provider's earnings, as the API reports them", async () => {
    const { context, page } = await signedIn(operatorKey);
    await page.goto(`${dev.dashboardURL}/providers`);
    const api = await json<{ data: { provider_id: string; earned_usdc: string; unpaid_usdc: string }[] }>(finance(operatorKey, "/providers"));
    for (const p of dev.providers) {
      const row = page.locator(`tr[data-provider="${p.id}"]`);
      const want = api.data.find((x) => x.provider_id === p.id)!;
      expect(await text(row)).toContain(want.earned_usdc);
      expect(await text(row)).toContain(want.unpaid_usdc);
    }
    await screenshot(page, "providers");
    // And any account's request.
    expect((await page.goto(`${dev.dashboardURL}/requests/${ids[0]}`))!.status()).toBe(200);
    await context.close();
  });
});

describe("sessions", () => {
  it("signing out ends the session: back to sign-in, and the old cookie no longer works when replayed", async () => {
    const { context, page } = await signedIn(dev.financeKey);
    const cookie = (await sessionCookie(context))!;
    const replay = () => fetch(dev.dashboardURL, { headers: { cookie: `mg_session=${cookie.value}` }, redirect: "manual" });
    expect((await replay()).status).toBe(200);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${dev.dashboardURL}/sign-in`);
    expect(await sessionCookie(context)).toBeUndefined();
    await page.goto(dev.dashboardURL);
    expect(page.url()).toBe(`${dev.dashboardURL}/sign-in`);
    const after = await replay();
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/dashboard/sign-in");
    await context.close();
  });

  it("a revoked finance key's sessions stop at once; a cross-site POST is refused", async () => {
    const key = await newKey(other.accountId, { role: "finance", name: "to revoke" });
    const { context, page } = await signedIn(key.secret);
    expect((await admin(dev, "DELETE", `/admin/v1/keys/${key.id}`)).ok).toBe(true);
    await page.reload();
    expect(page.url()).toBe(`${dev.dashboardURL}/sign-in`);
    await context.close();

    const forged = await fetch(`${dev.dashboardURL}/sign-in`, {
      method: "POST", headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" }, body: `key=${other.financeKey}`, redirect: "manual",
    });
    expect(forged.status).toBe(403);
  });
});

describe("provider dashboard", () => {
  it("signs in with the provider's wallet (EIP-712) and shows its earnings, payouts and receipt proofs", async () => {
    const { rows } = await db.query("select provider_id from usage_events where request_id = $1", [ids[0]]);
    const provider = byId(dev, (rows[0] as { provider_id: string }).provider_id);
    const wallet = privateKeyToAccount(walletKeyOf(provider));
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // A wallet in the page: eth_signTypedData_v4 is signed in Node by viem with the provider's key.
    await context.exposeFunction("meshgateTestSign", async (typed: string) => {
      const { types, ...rest } = JSON.parse(typed) as { types: Record<string, unknown> };
      delete types.EIP712Domain;
      return wallet.signTypedData({ ...rest, types } as unknown as Parameters<typeof wallet.signTypedData>[0]);
    });
    await context.addInitScript((address: string) => {
      const w = window as unknown as { ethereum: unknown; meshgateTestSign(t: string): Promise<string> };
      w.ethereum = {
        request: async ({ method, params }: { method: string; params?: unknown[] }) => {
          if (method === "eth_requestAccounts") return [address];
          if (method === "eth_signTypedData_v4") return w.meshgateTestSign(String(params![1]));
          throw new Error(`unsupported ${method}`);
        },
      };
    }, wallet.address.toLowerCase());
    const page = await context.newPage();
    await page.goto(`${dev.dashboardURL}/provider`);
    expect(page.url()).toBe(`${dev.dashboardURL}/provider/sign-in`);
    expect(await text(page.getByRole("heading", { level: 1 }))).toBe("Sign in with your wallet");
    await screenshot(page, "provider-sign-in");
    await page.getByRole("button", { name: "Sign in with your wallet" }).click();
    await page.waitForURL(`${dev.dashboardURL}/provider`);

    const api = await json<{ earned_usdc: string; paid_usdc: string; unpaid_usdc: string; payouts: { tx_hash: string | null }[] }>(finance(operatorKey, `/providers/${provider.id}`));
    expect(await text(page.getByRole("heading", { level: 1 }))).toBe(`Provider ${provider.id}`);
    expect(await text(page.locator("#earned"))).toBe(`${api.earned_usdc} USDC`);
    expect(await text(page.locator("#paid"))).toBe(`${api.paid_usdc} USDC`);
    expect(await text(page.locator("#unpaid"))).toBe(`${api.unpaid_usdc} USDC`);
    const paidTx = api.payouts.find((p) => p.tx_hash)?.tx_hash;
    expect(paidTx).toBeTruthy();
    expect(await text(page.getByRole("table", { name: /pay this provider/ }))).toContain(paidTx!);

    // The Merkle proof of a settled receipt, fetched with the session.
    const row = page.locator(`tr[data-request-id="${ids[0]}"]`);
    await row.getByRole("button", { name: /Merkle proof/ }).click();
    const trace = await json<{ period: { merkle_root: string } }>(finance(operatorKey, `/requests/${ids[0]}`));
    await waitText(row.locator("pre.proof"), trace.period.merkle_root);
    await screenshot(page, "provider");

    // A finance page is not a provider's.
    await page.goto(dev.dashboardURL);
    expect(page.url()).toBe(`${dev.dashboardURL}/sign-in`);
    await context.close();
  });

  it("refuses a wallet that no registered provider is bound to", async () => {
    const stranger = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"); // anvil dev key: test-only
    const context = await browser.newContext();
    await context.exposeFunction("meshgateTestSign", async (typed: string) => {
      const { types, ...rest } = JSON.parse(typed) as { types: Record<string, unknown> };
      delete types.EIP712Domain;
      return stranger.signTypedData({ ...rest, types } as unknown as Parameters<typeof stranger.signTypedData>[0]);
    });
    await context.addInitScript((address: string) => {
      const w = window as unknown as { ethereum: unknown; meshgateTestSign(t: string): Promise<string> };
      w.ethereum = { request: async ({ method, params }: { method: string; params?: unknown[] }) => (method === "eth_requestAccounts" ? [address] : w.meshgateTestSign(String(params![1]))) };
    }, stranger.address);
    const page = await context.newPage();
    await page.goto(`${dev.dashboardURL}/provider/sign-in`);
    await page.getByRole("button", { name: "Sign in with your wallet" }).click();
    await waitText(page.getByRole("status"), "not a registered provider");
    expect(page.url()).toBe(`${dev.dashboardURL}/provider/sign-in`);
    await context.close();
  });
});
