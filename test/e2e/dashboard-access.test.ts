/**
 * Who the dashboard lets see what, in a real (headless) Chromium against the local network: tenant
 * isolation, the operator's view of every provider, sign-out, a revoked key, and a cross-site POST.
 * Screenshots go to artifacts/screenshots/.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { screenshot } from "../support/browser";
import { admin } from "../support/network-client";
import {
  closeDashboard,
  dev,
  finance,
  json,
  newKey,
  operatorKey,
  seedDashboard,
  sessionCookie,
  signedIn,
  text,
  type DashboardWorld,
} from "../support/dashboard";

let world: DashboardWorld | undefined;
let browser: Browser;
/** Account A (the developer account) requests, each metered, with a receipt, and settled. */
let ids: string[] = [];
let other: DashboardWorld["other"];

beforeAll(async () => {
  world = await seedDashboard("access");
  ({ browser, ids, other } = world);
}, 90_000);

afterAll(() => closeDashboard(world));

describe("tenant isolation", () => {
  it("another account's session sees none of A's data, and A's request trace is a 404 page", async () => {
    const { context, page } = await signedIn(browser, other.financeKey);
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
    const { context, page } = await signedIn(browser, operatorKey);
    await page.goto(`${dev.dashboardURL}/providers`);
    const api = await json<{ data: { provider_id: string; earned_usdc: string; unpaid_usdc: string }[] }>(
      finance(operatorKey, "/providers"),
    );
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
    const { context, page } = await signedIn(browser, dev.financeKey);
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
    const { context, page } = await signedIn(browser, key.secret);
    expect((await admin(dev, "DELETE", `/admin/v1/keys/${key.id}`)).ok).toBe(true);
    await page.reload();
    expect(page.url()).toBe(`${dev.dashboardURL}/sign-in`);
    await context.close();

    const forged = await fetch(`${dev.dashboardURL}/sign-in`, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
      body: `key=${other.financeKey}`,
      redirect: "manual",
    });
    expect(forged.status).toBe(403);
  });
});
