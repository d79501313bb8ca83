/**
 * /dashboard/assets: Chart.js (its UMD build, from the chart.js package), the dashboard's script
 * and stylesheet, all from the worker itself. Pages link them with a hash of their contents in the
 * URL, so they may be cached for good: a deploy that changes any of them changes the URLs.
 */
import { Hono } from "hono";
import chartJs from "chart.js/dist/chart.umd.min.js";
import clientJs from "./assets/dashboard.client.js";
import css from "./assets/dashboard.css";
import type { AppEnv } from "../../app-env";

const FILES: Record<string, { body: string; type: string }> = {
  "chart.js": { body: chartJs, type: "text/javascript; charset=utf-8" },
  "dashboard.js": { body: clientJs, type: "text/javascript; charset=utf-8" },
  "dashboard.css": { body: css, type: "text/css; charset=utf-8" },
};

/** FNV-1a over every file, once per isolate (about a millisecond): a version, not a security check. */
let version: string | undefined;
function contentVersion(): string {
  let h = 0x811c9dc5;
  for (const { body } of Object.values(FILES)) {
    for (let i = 0; i < body.length; i++) h = Math.imul(h ^ body.charCodeAt(i), 0x01000193);
  }
  return (h >>> 0).toString(16);
}

export const assetUrl = (name: "chart.js" | "dashboard.js" | "dashboard.css") =>
  `/dashboard/assets/${name}?v=${(version ??= contentVersion())}`;

export const assetRoutes = new Hono<AppEnv>().get("/:name", (c) => {
  const name = c.req.param("name");
  const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!file) return c.text("Not found", 404);
  return c.body(file.body, 200, {
    "content-type": file.type,
    "cache-control": "public, max-age=31536000, immutable",
    "x-content-type-options": "nosniff",
  });
});
