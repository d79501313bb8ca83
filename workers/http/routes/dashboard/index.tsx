/**
 * /dashboard: the finance and provider dashboards, rendered by the worker (Hono JSX); no front-end
 * server. Every response carries a Content-Security-Policy that runs only this origin's scripts
 * (Chart.js and the dashboard's own script, from /dashboard/assets); data reaches them as JSON.
 */
import { Hono } from "hono";
import type { AppEnv } from "../../app-env";
import { assetRoutes } from "./assets";
import { depositsPage, providersPage, settlementsPage } from "./books";
import { ErrorPage } from "./layout";
import { overviewPage } from "./overview";
import { providerDashboardRoutes } from "./provider";
import { requireSession, sameOriginPosts } from "./session";
import { signInRoutes } from "./sign-in";
import { findRequest, tracePage } from "./trace";
import { usageCsvFile, usagePage } from "./usage";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const finance = requireSession("finance", "/dashboard/sign-in");

export const dashboardRoutes = new Hono<AppEnv>()
  .use("*", async (c, next) => {
    await next();
    c.header("content-security-policy", CSP);
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "same-origin");
    // Pages show account data: never cached (the assets set their own, long, caching).
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
  })
  .use("*", sameOriginPosts())
  .route("/assets", assetRoutes)
  .route("/", signInRoutes)
  .route("/provider", providerDashboardRoutes)
  .get("/", finance, overviewPage)
  .get("/usage", finance, usagePage)
  .get("/usage.csv", finance, usageCsvFile)
  .get("/deposits", finance, depositsPage)
  .get("/settlements", finance, settlementsPage)
  .get("/providers", finance, providersPage)
  .get("/requests", finance, findRequest)
  .get("/requests/:id", finance, tracePage)
  .all("*", (c) => {
    // A write the dashboard has no page for: the app's not-found answers it (405 and Allow where the path has pages).
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return c.notFound();
    const path = new URL(c.req.url).pathname;
    if (c.req.method === "GET" && path.endsWith("/")) return c.redirect(path.replace(/\/+$/, ""), 301); // /dashboard/ → /dashboard
    return ErrorPage(c, null, 404, "Page not found", "There is no such dashboard page.");
  })
  .onError((err, c) => {
    console.error(
      `dashboard ${c.req.method} ${new URL(c.req.url).pathname} (${c.var.requestId}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return ErrorPage(c, null, 500, "Something went wrong", `The page could not be shown. Request id: ${c.var.requestId}.`);
  });
