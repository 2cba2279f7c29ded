// A run's artifacts in the web UI, in Debian's headless Chromium against the real `pipewright
// serve`: the run page lists what the job kept (name, job, size, short SHA-256, whole on hover and
// focus), its download carries the token in a header (never in a URL) and yields the server's
// bytes; a run that kept nothing shows no panel; all of it by keyboard and at phone width.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatBytes } from "../src/cli/artifacts-format.js";
import { tempDir } from "./helpers/app.js";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, LONG } from "./helpers/browser.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startRun,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

const sha256 = (b: Buffer): string => crypto.createHash("sha256").update(b).digest("hex");

describe.skipIf(!hasChromium)("artifacts in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Client;
  let token: string;
  let pid: string;
  let buildId: string;
  let buildRun: string;
  let plainId: string;
  let plainRun: string;
  const pageErrors: string[] = [];

  const runPage = (pipelineId: string, runId: string) =>
    `${server.url}/#/p/${pid}/pipelines/${pipelineId}/runs/${runId}`;

  async function listed(): Promise<
    { name: string; file_size: string; hash_code: { hash_value: string }[] }[]
  > {
    const res = await api.get(`/v5/${pid}/api/pipelines/${buildId}/pipeline-runs/${buildRun}/artifacts`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.artifacts;
  }

  /** Inputs, selects, text areas and buttons inside the selector's element without an accessible name. */
  async function unnamed(selector: string): Promise<string[]> {
    return (await page.evaluate(
      `[...document.querySelectorAll(${JSON.stringify(`${selector} button, ${selector} input, ${selector} select`)})]` +
        `.filter((el) => !(el.labels?.length) && !el.getAttribute("aria-label") && !el.textContent.trim())` +
        `.map((el) => el.outerHTML)`,
    )) as string[];
  }

  /** The data-focus-key of what has the keyboard focus. */
  const focusKey = (): Promise<unknown> => page.evaluate("document.activeElement?.dataset.focusKey");

  beforeAll(async () => {
    server = await startServerProcess();
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const project = await admin.post("/admin/v1/projects", {
      name: `artifacts-${Math.random().toString(36).slice(2, 7)}`,
    });
    pid = project.body.project_id;
    const t = await admin.post("/admin/v1/tokens", { name: "ui", role: "admin", project_ids: [pid] });
    token = t.body.token;
    api = client(server.url, token);
    const def = JSON.parse(
      definition([
        {
          identifier: "build",
          jobs: [{ identifier: "package", steps: [{ script: "mkdir -p dist && echo hi > dist/a.txt" }] }],
        },
      ]),
    );
    def.stages[0].jobs[0].artifacts = [{ name: "dist", paths: ["dist/**"] }];
    buildId = await createPipelineVia(api, pid, { name: "build", definition: JSON.stringify(def) });
    buildRun = await startRun(api, pid, buildId);
    expect((await waitForRun(api, pid, buildId, buildRun)).status).toBe("COMPLETED");
    plainId = await createPipelineVia(api, pid, {
      name: "plain",
      definition: shellPipeline("echo nothing kept"),
    });
    plainRun = await startRun(api, pid, plainId);
    await waitForRun(api, pid, plainId, plainRun);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(LONG);
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
        pageErrors.push(`console: ${m.text()}`);
      }
    });
    await page.goto(`${server.url}/`);
    await page.getByTestId("token").fill(token);
    await page.getByTestId("sign-in").click();
    await page.getByTestId("pipelines-table").waitFor();
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== "fail" || !page) return;
    const file = path.join(tempDir("pipewright-ui-failure-"), "page.png");
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`UI test failed at ${page.url()}; screenshot: ${file}`);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("shows no panel for a run that kept nothing", async () => {
    // The list has been read (its answer is what hides the panel) before the panel is looked at.
    const read = page.waitForResponse((r) => r.url().endsWith(`/pipeline-runs/${plainRun}/artifacts`));
    await page.goto(runPage(plainId, plainRun));
    await page.locator('[data-testid="run-status"][data-status="COMPLETED"]').waitFor();
    expect((await read).status()).toBe(200);
    expect(await page.getByTestId("artifacts-panel").isHidden()).toBe(true);
  }, 60_000);

  it("lists the artifact: name, job, size, short SHA-256 with the whole one on hover and focus", async () => {
    const [artifact] = await listed();
    const hash = artifact!.hash_code[0]!.hash_value;
    await page.goto(runPage(buildId, buildRun));
    const panel = page.getByTestId("artifacts-panel");
    await panel.getByRole("heading", { name: "Artifacts" }).waitFor();
    const row = panel.getByTestId("artifact-dist");
    expect(await row.getByRole("rowheader").textContent()).toBe("dist");
    expect(await row.getByTestId("artifact-job").textContent()).toBe("package");
    expect(await row.getByTestId("artifact-size").textContent()).toBe(
      formatBytes(Number(artifact!.file_size)),
    );
    const sha = row.getByTestId("artifact-sha");
    expect(await sha.getAttribute("title")).toBe(hash);
    // What shows (innerText follows the CSS): the short hash, the whole one while focused.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is tested.
    expect(await sha.innerText()).toBe(hash.slice(0, 12));
    await sha.focus();
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is tested.
    expect(await sha.innerText()).toBe(hash);
    expect(await panel.getByRole("columnheader").allTextContents()).toEqual([
      "Name",
      "Job",
      "Size",
      "SHA-256",
      "Download",
    ]);
    expect(await unnamed("[data-testid=artifacts-panel]")).toEqual([]);
  }, 60_000);

  it("downloads by keyboard the server's bytes, the token in a header and never in a URL", async () => {
    const [artifact] = await listed();
    const hash = artifact!.hash_code[0]!.hash_value;
    await page.goto(runPage(buildId, buildRun));
    const row = page.getByTestId("artifact-dist");
    await row.waitFor();
    const urls: string[] = [];
    page.on("request", (r) => urls.push(r.url()));
    const sent = page.waitForRequest((r) => r.url().endsWith("/artifacts/dist/download"));
    const download = page.waitForEvent("download");
    // From the hash, Tab reaches the download button; Enter starts it.
    await row.getByTestId("artifact-sha").focus();
    await page.keyboard.press("Tab");
    const button = row.getByRole("button", { name: "Download dist.tar" });
    expect(await focusKey()).toBe("artifact-dist");
    await page.keyboard.press("Enter");
    const request = await sent;
    expect(request.headers()["x-auth-token"]).toBe(token);
    const file = await download;
    expect(file.suggestedFilename()).toBe("dist.tar");
    const bytes = fs.readFileSync((await file.path())!);
    expect(sha256(bytes)).toBe(hash);
    expect(String(bytes.length)).toBe(artifact!.file_size);
    await page
      .getByTestId("notices")
      .getByText(/^Downloaded dist\.tar/)
      .waitFor();
    // The button is itself again, and still has the focus.
    await button.getByText("Download", { exact: true }).waitFor();
    expect(await focusKey()).toBe("artifact-dist");
    expect(urls.filter((u) => u.includes(token))).toEqual([]);
  }, 60_000);

  it("fits a phone: the panel stays within 390 px with its download in reach", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(runPage(buildId, buildRun));
      const row = page.getByTestId("artifact-dist");
      await row.waitFor();
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      const box = await row.getByRole("button", { name: "Download dist.tar" }).boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x + box!.width).toBeLessThanOrEqual(390);
      // The whole hash on focus wraps inside the row instead of widening the page.
      await row.getByTestId("artifact-sha").focus();
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
