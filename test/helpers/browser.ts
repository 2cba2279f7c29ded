// Debian's chromium driven by playwright-core, as the UI tests use it: where it is, how it
// starts, how long a wait may take at most, and a page that collects the errors it logs.

import fs from "node:fs";
import type { BrowserContext, Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = fs.existsSync(CHROMIUM);
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Upper bounds for waits, never expectations about speed. */
export const LONG = 30_000;

/** A page whose script errors and console errors go to `errors`. */
export async function newPage(ctx: BrowserContext, errors: string[]): Promise<Page> {
  const p = await ctx.newPage();
  p.setDefaultTimeout(LONG);
  p.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  p.on("console", (m) => {
    // Chromium reports every 4xx answer as "Failed to load resource"; the tests cause some on purpose.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      errors.push(`console: ${m.text()}`);
    }
  });
  return p;
}

/** Signs in on the UI's start page with a token and waits for the pipelines table. */
export async function signIn(p: Page, url: string, token: string): Promise<void> {
  await p.goto(`${url}/`);
  await p.getByTestId("token").fill(token);
  await p.getByTestId("sign-in").click();
  await p.getByTestId("pipelines-table").waitFor();
}
