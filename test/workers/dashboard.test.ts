/**
 * The dashboard inside workerd, without a browser: its static files come out of the worker bundle
 * (text modules; see wrangler.toml's [[rules]]), and its sessions are cookies backed by Postgres.
 * The pages themselves are driven in Chromium by test/e2e/dashboard.test.ts.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { adminJson, BASE } from "../support/workerd/gateway";

const ORIGIN = { origin: BASE };
let financeKey: string;
let inferenceKey: string;

beforeAll(async () => {
  const account = await adminJson<{ id: string }>("POST", "/accounts", { name: "Dashboard Co" }, 201);
  financeKey = (await adminJson<{ secret: string }>("POST", "/keys", { account_id: account.id, role: "finance" }, 201)).secret;
  inferenceKey = (await adminJson<{ secret: string }>("POST", "/keys", { account_id: account.id }, 201)).secret;
});

const signIn = (key: string, headers: Record<string, string> = ORIGIN) =>
  SELF.fetch(`${BASE}/dashboard/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ key }).toString(),
    redirect: "manual",
  });
const page = (path: string, cookie?: string) =>
  SELF.fetch(`${BASE}/dashboard${path}`, { headers: cookie ? { cookie } : {}, redirect: "manual" });

describe("dashboard assets", () => {
  it("serves Chart.js, the dashboard's script and stylesheet with immutable caching", async () => {
    for (const [name, type, text] of [
      ["chart.js", "text/javascript", "Chart.js v4.6.1"],
      ["dashboard.js", "text/javascript", "drawCharts"],
      ["dashboard.css", "text/css", ":root"],
    ] as const) {
      const res = await SELF.fetch(`${BASE}/dashboard/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      expect(res.headers.get("cache-control")).toContain("immutable");
      expect(await res.text()).toContain(text);
    }
    expect((await SELF.fetch(`${BASE}/dashboard/assets/nope.js`)).status).toBe(404);
  });
});

describe("dashboard sessions", () => {
  it("sends a visitor without a session to sign-in, under a CSP that runs only same-origin scripts", async () => {
    expect((await page("/")).headers.get("location")).toBe("/dashboard");
    const res = await page("");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard/sign-in");
    const signInPage = await page("/sign-in");
    expect(signInPage.headers.get("content-security-policy")).toMatch(/default-src 'none'.*script-src 'self'/);
    expect(signInPage.headers.get("cache-control")).toBe("no-store");
    expect(await signInPage.text()).toMatch(/^<!doctype html>.*<label>Finance API key/s);
  });

  it("opens a session for a finance key only, in an HttpOnly, Secure, SameSite=Strict cookie holding no key", async () => {
    expect((await signIn(inferenceKey)).status).toBe(403);
    expect((await signIn("mg-nope")).status).toBe(401);
    const res = await signIn(financeKey);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^mg_session=[A-Za-z0-9_-]{43};/);
    for (const attr of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/dashboard", "Max-Age=43200"]) expect(cookie).toContain(attr);
    expect(cookie).not.toContain(financeKey);

    const session = cookie.split(";")[0]!;
    const overview = await page("", session);
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain("<h1>Overview</h1>");
    // Another account's (or no) request is a 404 page, not an empty one.
    const missing = await page("/requests/gen-does-not-exist", session);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("Request not found");
    expect((await page("/providers", session)).status).toBe(403);
  });

  it("refuses a POST that does not come from the dashboard's own origin", async () => {
    expect((await signIn(financeKey, { origin: "https://evil.example" })).status).toBe(403);
    expect((await signIn(financeKey, {})).status).toBe(403);
    expect((await signIn(financeKey, { "sec-fetch-site": "same-origin" })).status).toBe(303);
  });

  it("forgets an unknown session cookie and answers an unknown page with a 404 page", async () => {
    const res = await page("/usage", `mg_session=${"a".repeat(43)}`);
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toMatch(/^mg_session=;.*Max-Age=0/);
    const nope = await page("/no-such-page");
    expect(nope.status).toBe(404);
    expect(nope.headers.get("content-type")).toContain("text/html");
  });
});
