/**
 * The provider's dashboard in a real (headless) Chromium against the local network: sign-in with
 * the provider's wallet (EIP-712), its earnings, payouts and receipt proofs, and a stranger's wallet
 * refused. Screenshots go to artifacts/screenshots/.
 */
import type pg from "pg";
import type { Browser } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { screenshot } from "../support/browser";
import { walletKeyOf } from "../support/chain";
import { byId } from "../support/network-client";
import { closeDashboard, dev, finance, json, operatorKey, seedDashboard, text, waitText, type DashboardWorld } from "../support/dashboard";

let world: DashboardWorld | undefined;
let browser: Browser;
let db: pg.Client;
/** Account A (the developer account) requests, each metered, with a receipt, and settled. */
let ids: string[] = [];

beforeAll(async () => {
  world = await seedDashboard("provider");
  ({ browser, db, ids } = world);
}, 90_000);

afterAll(() => closeDashboard(world));

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

    const api = await json<{ earned_usdc: string; paid_usdc: string; unpaid_usdc: string; payouts: { tx_hash: string | null }[] }>(
      finance(operatorKey, `/providers/${provider.id}`),
    );
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
      w.ethereum = {
        request: async ({ method, params }: { method: string; params?: unknown[] }) =>
          method === "eth_requestAccounts" ? [address] : w.meshgateTestSign(String(params![1])),
      };
    }, stranger.address);
    const page = await context.newPage();
    await page.goto(`${dev.dashboardURL}/provider/sign-in`);
    await page.getByRole("button", { name: "Sign in with your wallet" }).click();
    await waitText(page.getByRole("status"), "not a registered provider");
    expect(page.url()).toBe(`${dev.dashboardURL}/provider/sign-in`);
    await context.close();
  });
});
