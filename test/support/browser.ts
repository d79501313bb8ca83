/**
 * Headless Chromium for the dashboard tests, from npm alone: @sparticuz/chromium ships the browser
 * inside its package (unpacked once into the temp folder), playwright-core drives it. Never
 * `npx playwright install`, which downloads a browser of its own.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import chromium from "@sparticuz/chromium";
import { chromium as playwright, type Browser, type Page } from "playwright-core";

export const SCREENSHOTS = path.resolve("artifacts/screenshots");

/**
 * @sparticuz/chromium's flags are tuned for AWS Lambda: three of them do not suit these tests.
 * `--single-process` takes the whole browser down when a context closes (each test has its own),
 * and `--disable-web-security` / `--allow-running-insecure-content` turn off the same-origin
 * rules that the dashboard's cookie and CSP checks are about.
 */
const LAMBDA_ONLY = new Set(["--single-process", "--disable-web-security", "--allow-running-insecure-content"]);

export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    // The background-networking flags keep a closed network from refusing connections at every start.
    args: [
      ...chromium.args.filter((a) => !LAMBDA_ONLY.has(a)),
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    headless: true,
  });
}

/** A full-page screenshot into artifacts/screenshots/<name>.png (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
