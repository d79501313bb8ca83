/**
 * What the dashboard tests (dashboard-*.test.ts) share: the Finance API and admin calls they check
 * the pages against, sign-in as a person would, and the world each file seeds for itself. The files
 * run one after another against one network (isolate: false), so every seeding sends its own
 * traffic and makes its own tenant; nothing here keeps state between calls.
 */
import pg from "pg";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { expect, inject } from "vitest";
import { launchBrowser } from "./browser";
import { admin, resetNetwork, sdk } from "./network-client";

export const dev = inject("dev");
const client = sdk(dev);
/** The network's operator finance key (scope "all"), from dev.json. */
export const operatorKey = dev.operatorFinanceKey;

export async function json<T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> {
  const r = await res;
  const text = await r.text();
  if (!r.ok) throw new Error(`${r.url} → ${r.status}: ${text}`);
  return JSON.parse(text) as T;
}

export const finance = (key: string, path: string) =>
  fetch(`${dev.gatewayURL}/finance/v1${path}`, { headers: { authorization: `Bearer ${key}` } });

/** Chat (streamed and not) and embeddings as account A; resolves once each is metered and has its receipt. */
async function traffic(db: pg.Client, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const ask = { model: dev.model, messages: [{ role: "user" as const, content: `dashboard ${i}` }], max_tokens: 30 };
    if (i % 3 === 0) out.push((await client.chat.completions.create(ask).withResponse()).response.headers.get("x-request-id")!);
    else if (i % 3 === 1) {
      const { data, response } = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
      for await (const _ of data) {
        /* drain */
      }
      out.push(response.headers.get("x-request-id")!);
    } else
      out.push(
        (await client.embeddings.create({ model: dev.embeddingModel, input: [`dashboard ${i}`] }).withResponse()).response.headers.get(
          "x-request-id",
        )!,
      );
  }
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query(
      "select count(*)::int as n from usage_events u join receipts r using (request_id) where u.request_id = any($1)",
      [out],
    );
    if ((rows[0] as { n: number }).n === out.length) return out;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("usage events and receipts were not written in time");
}

export async function newKey(accountId: string, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  return json(admin(dev, "POST", "/admin/v1/keys", { account_id: accountId, ...body }));
}

/** A browser context signed in with a finance key (the form, as a person would). */
export async function signedIn(browser: Browser, key: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${dev.dashboardURL}/sign-in`);
  await page.getByLabel("Finance API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${dev.dashboardURL}`);
  return { context, page };
}

/** The element's text, trimmed (waits for it to be there). */
export const text = async (l: Locator) => (await l.first().innerText()).trim();
/** Waits until the element shows `s` (for what the page's script fills in, or after a navigation). */
export const waitText = (l: Locator, s: string) => l.filter({ hasText: s }).first().waitFor({ timeout: 15_000 });

export const sessionCookie = async (context: BrowserContext) => (await context.cookies()).find((c) => c.name === "mg_session");

/** One file's seeded world: a browser, a database connection, A's settled requests and tenant B. */
export interface DashboardWorld {
  browser: Browser;
  db: pg.Client;
  /** Account A (the developer account) requests, each metered, with a receipt, and settled. */
  ids: string[];
  /** Another account ("Dashboard tenant B <topic>") with a finance key. */
  other: { accountId: string; financeKey: string; financeKeyId: string };
}

/** Seeds a world for one file, named by `topic`: six requests as A, a settled period, tenant B. */
export async function seedDashboard(topic: string): Promise<DashboardWorld> {
  const browser = await launchBrowser();
  const db = new pg.Client({ connectionString: dev.databaseUrl });
  try {
    await db.connect();
    await resetNetwork(dev);
    const ids = await traffic(db, 6);
    // Close a settlement period: every request above is committed by its root and paid on the L2.
    const settled = await json<{ data?: { status: string }; status?: string }>(
      admin(dev, "POST", "/admin/v1/jobs/settlement/run?wait_ms=20000"),
    );
    expect((settled.data ?? settled).status).toBe("settled");

    const account = await json<{ id: string }>(admin(dev, "POST", "/admin/v1/accounts", { name: `Dashboard tenant B ${topic}` }));
    const key = await newKey(account.id, { role: "finance", name: `tenant B ${topic} finance` });
    return { browser, db, ids, other: { accountId: account.id, financeKey: key.secret, financeKeyId: key.id } };
  } catch (error) {
    // The files share one process: a failed seeding must not leave its browser running for the next.
    await browser.close();
    await db.end().catch(() => undefined);
    throw error;
  }
}

export async function closeDashboard(world: DashboardWorld | undefined): Promise<void> {
  await world?.browser.close();
  await world?.db.end();
}
