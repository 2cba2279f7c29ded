// The edges of the web UI (issue "close the gaps at the edges"), in Debian's headless Chromium
// against the real `pipewright serve`: a step cannot hide its output from the log pane (a flood of
// escape codes, one line of megabytes), malformed escape sequences show no ESC, a page of another
// origin cannot frame the signed-in UI, and the OpenAPI page works under the same CSP.

import http from "node:http";
import type net from "node:net";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, LONG } from "./helpers/browser.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startRun,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

/** The pane keeps at most this many characters (web/src/log-pane.ts). */
const PANE_MAX = 1_000_000;

describe.skipIf(!hasChromium)("the UI's edges in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Client;
  let token: string;
  let pid: string;
  let pipelineId: string;
  let runId: string;
  const pageErrors: string[] = [];
  const consoleLines: string[] = [];

  beforeAll(async () => {
    server = await startServerProcess();
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const project = await admin.post("/admin/v1/projects", {
      name: `edges-${Math.random().toString(36).slice(2, 7)}`,
    });
    pid = project.body.project_id;
    token = (await admin.post("/admin/v1/tokens", { name: "ui", role: "admin", project_ids: [pid] })).body
      .token;
    api = client(server.url, token);
    pipelineId = await createPipelineVia(api, pid, {
      name: "loud",
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "noisy",
              steps: [
                {
                  // 1.3 MB of colour codes that show nothing, then a line to read.
                  identifier: "escapes",
                  script:
                    "echo before-escapes; yes \"$(printf '\\033[1;31m\\033[0m')\" | head -n 120000 | tr -d '\\n'; " +
                    "echo; echo FINAL-AFTER-ESCAPES",
                },
                {
                  // One line of 3 MB, then a short one.
                  identifier: "huge",
                  script: "head -c 3000000 /dev/zero | tr '\\0' x; echo END-OF-HUGE; echo AFTER-HUGE",
                },
                {
                  // Broken-off and unusual sequences: none may leave an ESC (or its text) behind.
                  identifier: "odd",
                  script:
                    "printf 'A\\033[31 \\033[1xb\\033(Bc\\033[12\\nD\\033]0;window-title\\007E\\033\\nF\\033[?25l\\033[>0cG\\033[1;2\\001H\\n'",
                },
              ],
            },
          ],
        },
      ]),
    });
    runId = await startRun(api, pid, pipelineId);
    const run = await waitForRun(api, pid, pipelineId, runId);
    expect(run.status).toBe("COMPLETED");

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(LONG);
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => consoleLines.push(m.text()));
    await page.goto(`${server.url}/`);
    await page.getByTestId("token").fill(token);
    await page.getByTestId("sign-in").click();
    await page.getByTestId("pipelines-table").waitFor();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const paneText = (): Promise<string> => page.getByTestId("log").evaluate((el) => el.textContent ?? "");

  async function openStep(identifier: string): Promise<void> {
    await page.goto(`${server.url}/#/p/${pid}/pipelines/${pipelineId}/runs/${runId}`);
    await page.getByTestId(`step-${identifier}`).click();
    await page.getByTestId(`step-${identifier}`).and(page.locator('[aria-pressed="true"]')).waitFor();
  }

  it("shows the output after a megabyte of escape codes", async () => {
    await openStep("escapes");
    const log = page.getByTestId("log");
    await log.getByText("FINAL-AFTER-ESCAPES").waitFor();
    const text = await paneText();
    expect(text).toContain("before-escapes");
    expect(text).not.toContain("\x1b");
    // Nothing visible was cut, so nothing says so.
    expect(await page.getByTestId("log-cut").isHidden()).toBe(true);
  });

  it("keeps the end of one line of megabytes and the lines after it, saying what it cut", async () => {
    await openStep("huge");
    const log = page.getByTestId("log");
    await log.getByText("AFTER-HUGE").waitFor();
    const text = await paneText();
    expect(text).toMatch(/x{1000}END-OF-HUGE\nAFTER-HUGE/);
    expect(text.length).toBeLessThanOrEqual(PANE_MAX + 200);
    const cut = page.getByTestId("log-cut");
    await cut.waitFor();
    expect(await cut.textContent()).toMatch(/cut here/);
    expect(await page.locator(".log-notice").textContent()).toMatch(
      /not shown here; Download has the whole log/,
    );
  });

  it("drops broken-off and unusual escape sequences whole, showing no ESC", async () => {
    await openStep("odd");
    const log = page.getByTestId("log");
    await log.getByText("FGH").waitFor();
    const text = await paneText();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may be shown.
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
    expect(text).toContain("Abc\nDE\nFGH");
    expect(text).not.toContain("window-title");
  });

  it("cannot be framed signed in by a page of another origin", async () => {
    // The attacker's page: same host, another port (so the same site, sharing nothing but that).
    const attacker = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><iframe id="f" src="${server.url}/ui/index.html"></iframe>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = attacker.address() as net.AddressInfo;
      const before = consoleLines.length;
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.locator("#f").waitFor();
      const refused = async () =>
        consoleLines.slice(before).some((l) => /frame-ancestors/.test(l)) ||
        page.frames().some((f) => f.url().startsWith("chrome-error://"));
      for (let i = 0; i < 100 && !(await refused()); i++) await page.waitForTimeout(100);
      expect(await refused()).toBe(true);
      // Whatever is in the frame, it is not the UI.
      const framed = page.frames().find((f) => f.url().includes("/ui/index.html"));
      expect(framed ? await framed.locator('[data-testid="token"], #app').count() : 0).toBe(0);
    } finally {
      await new Promise((resolve) => attacker.close(resolve));
    }
  });

  it("serves the OpenAPI page working under the same policy", async () => {
    const before = consoleLines.length;
    await page.goto(`${server.url}/openapi/`);
    await page.locator(".swagger-ui .info .title").getByText("Pipewright API").waitFor();
    expect(await page.locator(".opblock").count()).toBeGreaterThan(50);
    // Its operations open (the bundle's script runs under script-src 'self'). Swagger UI also
    // applies one inline style, which style-src 'self' refuses: cosmetic, and the same policy
    // for every page is worth more (docs/decisions.md).
    await page.locator(".opblock-summary").first().click();
    await page.locator(".opblock-body").first().waitFor();
    expect(consoleLines.slice(before).filter((l) => /script-src|Refused to (execute|load)/i.test(l))).toEqual(
      [],
    );
    expect(pageErrors, consoleLines.slice(before).join("\n")).toEqual([]);
  });
});
