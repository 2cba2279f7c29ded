// The run page's log viewer in Debian's headless Chromium against the real `pipewright serve`
// (issue 16): numbered lines and links to a line, find with a count and next / previous,
// GitLab sections and GitHub groups folded, a retried job's earlier attempt, arrival times of
// live output, and axe-core on the page with all of it in use.

import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, newPage, signIn } from "./helpers/browser.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startRun,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const ROWS = 'for i in $(seq 1 300); do echo "row-$i"; done';
const SECTIONS = [
  'echo "::group::Install deps"',
  "echo inside-group",
  'echo "::endgroup::"',
  "printf '\\033[0Ksection_start:1700000000:compile[collapsed=true]\\r\\033[0KCompiling\\n'",
  "echo inside-section",
  "printf '\\033[0Ksection_end:1700000007:compile\\r\\033[0K\\n'",
  "echo after-sections",
].join("; ");

describe.skipIf(!hasChromium)("the log viewer in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Client;
  let token: string;
  let pid: string;
  let pipelineId: string;
  let runId: string;
  let dir: string;
  const errors: string[] = [];
  const runPage = (query = "") => `${server.url}/#/p/${pid}/pipelines/${pipelineId}/runs/${runId}${query}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pw-logview-"));
    server = await startServerProcess();
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    pid = (
      await admin.post("/admin/v1/projects", { name: `logview-${Math.random().toString(36).slice(2, 7)}` })
    ).body.project_id;
    token = (await admin.post("/admin/v1/tokens", { name: "ui", role: "admin", project_ids: [pid] })).body
      .token;
    api = client(server.url, token);
    const mark = path.join(dir, "flipped");
    pipelineId = await createPipelineVia(api, pid, {
      name: "viewer",
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "main",
              steps: [
                {
                  identifier: "lines",
                  name: "Print lines",
                  script: `${ROWS}; ${SECTIONS}; echo "version=1.2.3" >> "$PIPEWRIGHT_OUTPUT"`,
                },
              ],
            },
            {
              identifier: "flaky",
              steps: [
                {
                  identifier: "flip",
                  script: `test -f ${mark} || { touch ${mark}; echo first-attempt; exit 1; }; echo second-attempt`,
                },
              ],
            },
          ],
        },
      ]),
    });
    runId = await startRun(api, pid, pipelineId);
    expect((await waitForRun(api, pid, pipelineId, runId)).status).toBe("FAILED");
    const retried = await api.put(`/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/${runId}/retry`, {});
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    await waitFor(async () => {
      const d = await api.get(
        `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/detail?pipeline_run_id=${runId}`,
      );
      return d.body.status === "COMPLETED";
    });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await newPage(context, errors);
    await signIn(page, server.url, token);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openStep(identifier: string, query = ""): Promise<void> {
    await page.goto(runPage(query));
    await page.getByTestId(`step-${identifier}`).click();
    await page.getByTestId(`step-${identifier}`).and(page.locator('[aria-pressed="true"]')).waitFor();
  }
  const log = () => page.getByTestId("log");
  const line = (n: number) => log().locator(`.line[data-n="${n}"]`);
  /** Whether the line is inside the pane's visible part (the pane scrolls, not the page). */
  const inView = (n: number): Promise<boolean> =>
    line(n).evaluate((el) => {
      const pane = el.closest("pre")!.getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.height > 0 && r.top >= pane.top && r.bottom <= pane.bottom;
    });

  it("numbers the lines without putting the numbers in the log's text", async () => {
    await openStep("lines");
    await log().getByText("row-300").waitFor();
    expect(await line(150).locator(".ln").getAttribute("data-n")).toBe("150");
    const text = (await log().textContent()) ?? "";
    expect(text).toContain("row-1\nrow-2\nrow-3\n");
    expect(text).not.toMatch(/\d+row-/);
  });

  it("links to a line: the address names it, and opening it scrolls to it and marks it", async () => {
    await openStep("lines");
    await log().getByText("row-300").waitFor();
    await line(150).locator(".ln").click();
    await page.waitForURL(/line=150/);
    const url = page.url();
    expect(url).toMatch(/\?step=\w+&line=150$/);
    // Another page first, so that the link really opens the run page afresh.
    await page.goto(`${server.url}/#/p/${pid}`);
    await page.getByTestId("pipelines-table").waitFor();
    await page.goto(url);
    await line(150).and(page.locator(".linked")).waitFor();
    expect(await inView(150)).toBe(true);
    expect(await inView(300)).toBe(false);
    expect(await page.getByTestId("log-follow").getAttribute("aria-pressed")).toBe("false");
  });

  it("finds text in the step's log with a count, next and previous", async () => {
    await openStep("lines");
    await log().getByText("row-300").waitFor();
    await page.getByTestId("log-search").fill("ROW-29");
    const count = page.getByTestId("log-search-count");
    // row-29 and row-290 … row-299.
    await expect.poll(() => count.textContent()).toBe("1 of 11");
    expect(await log().locator(".match-line").textContent()).toBe("row-29\n");
    await page.getByTestId("log-search-next").click();
    await expect.poll(() => count.textContent()).toBe("2 of 11");
    expect(await log().locator(".match-line").textContent()).toBe("row-290\n");
    await page.getByTestId("log-search-prev").click();
    await page.getByTestId("log-search-prev").click();
    await expect.poll(() => count.textContent()).toBe("11 of 11");
    expect(await log().locator(".match-line").textContent()).toBe("row-299\n");
    expect(await inView(299)).toBe(true);
    // Enter goes on, and wraps round.
    await page.getByTestId("log-search").press("Enter");
    await expect.poll(() => count.textContent()).toBe("1 of 11");
    expect(await inView(29)).toBe(true);
    await page.getByTestId("log-search").fill("no-such-text");
    await expect.poll(() => count.textContent()).toBe("No matches");
  });

  it("folds GitHub groups and GitLab sections into blocks that open and close", async () => {
    await openStep("lines");
    await log().getByText("after-sections").waitFor();
    const group = log().getByRole("button", { name: "Install deps" });
    // A group folds when it ends, as GitHub Actions shows it.
    expect(await group.getAttribute("aria-expanded")).toBe("false");
    expect(await log().getByText("inside-group").isVisible()).toBe(false);
    await group.click();
    expect(await group.getAttribute("aria-expanded")).toBe("true");
    expect(await log().getByText("inside-group").isVisible()).toBe(true);
    // [collapsed=true]: folded; its header's text (after the marker's \r) stays shown, with how long it took.
    const section = log().getByRole("button", { name: "compile" });
    expect(await section.getAttribute("aria-expanded")).toBe("false");
    expect(await log().getByText("Compiling").isVisible()).toBe(true);
    expect(await log().getByText("inside-section").isVisible()).toBe(false);
    expect(await log().locator(".section-head[data-took='7s']").count()).toBe(1);
    // No marker is shown as text (the end markers are kept, unshown, so the numbers match the download).
    // biome-ignore lint/performance/useDomNodeTextContent: what is rendered is the point.
    expect(await log().evaluate((el) => el.innerText)).not.toMatch(/section_(start|end)|::(end)?group::/);
    // Finding text inside a folded section opens it.
    await page.getByTestId("log-search").fill("inside-section");
    await expect.poll(() => page.getByTestId("log-search-count").textContent()).toBe("1 of 1");
    expect(await log().getByText("inside-section").isVisible()).toBe(true);
    expect(await section.getAttribute("aria-expanded")).toBe("true");
  });

  it("shows an earlier attempt's log of a retried job, named in the address", async () => {
    await openStep("flip");
    await log().getByText("second-attempt").waitFor();
    const select = page.getByTestId("log-attempt");
    expect(await select.isVisible()).toBe(true);
    expect(await select.locator("option").allTextContents()).toEqual(["#2 (latest)", "#1 failed"]);
    await select.selectOption("1");
    await log().getByText("first-attempt").waitFor();
    expect(await log().textContent()).not.toContain("second-attempt");
    await page.waitForURL(/attempt=1/);
    const url = page.url();
    await page.goto(`${server.url}/#/p/${pid}`);
    await page.getByTestId("pipelines-table").waitFor();
    await page.goto(url);
    await log().getByText("first-attempt").waitFor();
    expect(await page.getByTestId("log-attempt").inputValue()).toBe("1");
    await page.getByTestId("log-attempt").selectOption("2");
    await log().getByText("second-attempt").waitFor();
  });

  it("shows when live lines arrived, on demand, and that stored ones have no time", async () => {
    const gate = path.join(dir, "gate");
    const live = await createPipelineVia(api, pid, {
      name: "live",
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "job",
              steps: [
                { script: `echo early-line; while [ ! -f ${gate} ]; do sleep 0.2; done; echo late-line` },
              ],
            },
          ],
        },
      ]),
    });
    const run = await startRun(api, pid, live);
    // The first line is stored before the page opens the log.
    await waitFor(async () => {
      const d = await api.get(`/v5/${pid}/api/pipelines/${live}/pipeline-runs/detail?pipeline_run_id=${run}`);
      const job = d.body.stages?.[0]?.jobs?.[0];
      const step = job?.steps?.[0];
      if (!step || step.status !== "RUNNING") return false;
      const l = await api.post(
        `/v5/${pid}/api/pipelines/${live}/pipeline-runs/${run}/jobs/${job.id}/steps/${step.id}/logs`,
        { limit: 10, sort: "asc" },
      );
      return String(l.body.log ?? "").includes("early-line");
    });
    await page.goto(`${server.url}/#/p/${pid}/pipelines/${live}/runs/${run}`);
    await log().getByText("early-line").waitFor();
    fs.writeFileSync(gate, "");
    await log().getByText("late-line").waitFor();
    const ts = (text: string) => log().locator(".line", { hasText: text }).locator(".ts");
    expect(await ts("late-line").isVisible()).toBe(false);
    await page.getByTestId("log-times").click();
    expect(await page.getByTestId("log-times-note").isVisible()).toBe(true);
    expect(await ts("late-line").isVisible()).toBe(true);
    expect(await ts("late-line").getAttribute("data-t")).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(await ts("early-line").getAttribute("data-t")).toBe("");
    // The times are not in the log's text either.
    expect(await log().textContent()).toContain("early-line\nlate-line\n");
  });

  it("shows the run's step outputs next to its artifacts", async () => {
    await page.goto(runPage());
    const panel = page.getByTestId("outputs-panel");
    await panel.getByTestId("output-version").waitFor();
    const row = panel.getByTestId("output-version");
    expect(await row.locator(".o-step").textContent()).toBe("main › Print lines");
    expect(await row.locator(".o-value").textContent()).toBe("1.2.3");
    // Only the step that wrote some is listed.
    expect(await panel.locator("tbody tr").count()).toBe(1);
  });

  it("passes axe-core on the run page with the log's features in use", async () => {
    await openStep("lines", "");
    await log().getByText("after-sections").waitFor();
    await page.getByTestId("log-search").fill("row-1");
    await page.getByTestId("log-times").click();
    await line(10).locator(".ln").click();
    if (!(await page.evaluate('"axe" in window'))) await page.evaluate(AXE_SOURCE);
    const found = (await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) =>
      r.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`)) as string[];
    expect(found).toEqual([]);
    await page.goto(runPage());
    await page.getByTestId("step-flip").click();
    await page.getByTestId("log-attempt").waitFor();
    expect(
      (await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) =>
      r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id))`)) as string[],
    ).toEqual([]);
    expect(errors).toEqual([]);
  });
});
