// Issue 16's web UI findings, in Debian's headless Chromium against the real `pipewright serve`:
// the run graph laid out by depends_on with its lines, a disabled pipeline in a batch, missing
// pipelines and runs, notices that do not pile up, the server stopping under an open run page, the
// live "waiting" time, the editor's unsaved edits and its YAML kept through JSON, the batch panel
// on a phone, a viewer offered only what it may do, the project's Runs page, the run's details,
// shortcuts, the sign-in hint, and axe-core on every page. The pure layout helpers come first.

import fs from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { columns, levels, stageDeps } from "../web/src/run-layout.js";
import { parseQuery, queryString, serverFilter } from "../web/src/runs-query.js";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  hasChromium,
  newPage as openPage,
  signIn as signInWith,
} from "./helpers/browser.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
  waitFor,
} from "./helpers/server.js";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

describe("run graph layout and Runs query (pure)", () => {
  it("puts stages that wait for the same stage in one column, and defaults to the stage before", () => {
    const stages = [
      { identifier: "build", depends_on: [] },
      { identifier: "test1", depends_on: ["build"] },
      { identifier: "test2", depends_on: ["build"] },
      { identifier: "publish", depends_on: ["test1", "test2"] },
      { identifier: "notify", depends_on: [] },
    ];
    const nodes = stageDeps(stages);
    expect(nodes.at(-1)).toEqual({ id: "notify", deps: ["publish"] });
    const lv = levels(nodes);
    expect([...lv]).toEqual([
      ["build", 0],
      ["test1", 1],
      ["test2", 1],
      ["publish", 2],
      ["notify", 3],
    ]);
    expect(columns(stages, (s) => s.identifier, lv).map((c) => c.map((s) => s.identifier))).toEqual([
      ["build"],
      ["test1", "test2"],
      ["publish"],
      ["notify"],
    ]);
    // Jobs have no default: without depends_on they all start together.
    expect([
      ...levels([
        { id: "a", deps: [] },
        { id: "b", deps: [] },
        { id: "c", deps: ["a", "zz"] },
      ]),
    ]).toEqual([
      ["a", 0],
      ["b", 0],
      ["c", 1],
    ]);
    // A cycle (refused by the server) cannot hang the page.
    expect(
      levels([
        { id: "x", deps: ["y"] },
        { id: "y", deps: ["x"] },
      ]).size,
    ).toBe(2);
  });

  it("keeps the Runs filters in the URL and sends all but the branch to the server", () => {
    const q = parseQuery(
      "#/p/abc/runs?status=FAILED&pipeline=p1&branch=main&from=2026-01-02&offset=20&limit=50",
    );
    expect(q).toEqual({
      status: "FAILED",
      pipeline: "p1",
      trigger: "",
      branch: "main",
      from: "2026-01-02",
      to: "",
      offset: 20,
      limit: 50,
    });
    expect(parseQuery(`#/p/abc/runs?${queryString(q)}`)).toEqual(q);
    const body = serverFilter(q);
    expect(body.status).toEqual(["FAILED"]);
    expect(body.pipeline_ids).toEqual(["p1"]);
    expect(body).not.toHaveProperty("branch");
    expect(typeof body.start_time).toBe("number");
    // Nonsense in the URL falls back to the defaults rather than breaking the page.
    expect(parseQuery("#/p/abc/runs?limit=7&offset=-3&from=yesterday")).toMatchObject({
      limit: 20,
      offset: 0,
      from: "",
    });
  });
});

describe.skipIf(!hasChromium)("issue 16 in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Client;
  let admin: Client;
  let token: string;
  let pid: string;
  const pageErrors: string[] = [];
  const newPage = (ctx: BrowserContext): Promise<Page> => openPage(ctx, pageErrors);
  const base = (path = "") => `${server.url}/#/p/${pid}${path}`;

  const status = (p: Page, testid: string, st: string) =>
    p
      .locator(
        `[data-testid="${testid}"][data-status="${st}"], [data-testid="${testid}"] [data-status="${st}"]`,
      )
      .first();

  /** axe-core in the page: the serious and critical violations, as "rule: target" lines. */
  async function axe(p: Page): Promise<string[]> {
    // Evaluated rather than added as a <script>: the page's CSP refuses inline scripts, as it should.
    if (!(await p.evaluate('"axe" in window'))) await p.evaluate(AXE_SOURCE);
    // A string, run in the page: this file is typed for Node, without the DOM's names.
    const found = (await p.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) =>
      r.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`)) as string[];
    return found;
  }

  async function runAndWait(pipelineId: string, body: Record<string, unknown> = {}): Promise<string> {
    const res = await api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const id = res.body.pipeline_run_id as string;
    await waitFor(
      async () => {
        const d = await api.get(
          `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/detail?pipeline_run_id=${id}`,
        );
        return ["COMPLETED", "FAILED", "CANCELED"].includes(d.body.status);
      },
      60_000,
      "run end",
    );
    return id;
  }

  beforeAll(async () => {
    server = await startServerProcess();
    admin = client(server.url, E2E_ADMIN_TOKEN);
    const p = await admin.post("/admin/v1/projects", {
      name: `usab-${Math.random().toString(36).slice(2, 7)}`,
    });
    pid = p.body.project_id;
    const t = await admin.post("/admin/v1/tokens", { name: "ui16", role: "admin", project_ids: [pid] });
    token = t.body.token;
    api = client(server.url, token);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await newPage(context);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("tells on the sign-in page how to get a token with the CLI, and passes axe there", async () => {
    await page.goto(`${server.url}/`);
    const hint = page.getByTestId("token-hint");
    await hint.waitFor();
    expect(await hint.textContent()).toContain("pipewright admin token create");
    expect(await hint.textContent()).toContain("pipewright login");
    const found = await axe(page);
    await signInWith(page, server.url, token);
    expect(found).toEqual([]);
  }, 60_000);

  it("draws stages and jobs by their dependencies, with live lines between them", async () => {
    const job = (identifier: string, depends_on: string[] = []) => ({
      identifier,
      depends_on,
      steps: [{ script: "true" }],
    });
    const id = await createPipelineVia(api, pid, {
      name: "fan-out",
      definition: definition([
        { identifier: "build", jobs: [job("compile"), job("lint"), job("package", ["compile"])] },
        { identifier: "test1", depends_on: ["build"], jobs: [job("t1")] },
        { identifier: "test2", depends_on: ["build"], jobs: [job("t2")] },
        { identifier: "publish", depends_on: ["test1", "test2"], jobs: [job("pub")] },
      ]),
    });
    const run = await runAndWait(id);
    await page.goto(base(`/pipelines/${id}/runs/${run}`));
    await status(page, "run-status", "COMPLETED").waitFor();
    const box = async (testid: string) => (await page.getByTestId(testid).boundingBox())!;
    const [b, t1, t2, pub] = [
      await box("stage-build"),
      await box("stage-test1"),
      await box("stage-test2"),
      await box("stage-publish"),
    ];
    // The two test stages side by side in one column, after build and before publish.
    expect(t1.x).toBe(t2.x);
    expect(t2.y).toBeGreaterThan(t1.y);
    expect(t1.x).toBeGreaterThan(b.x + b.width - 1);
    expect(pub.x).toBeGreaterThan(t1.x + t1.width - 1);
    // package waits for compile: a column to its right; lint starts with compile.
    const [compile, lint, pack] = [await box("job-compile"), await box("job-lint"), await box("job-package")];
    expect(lint.x).toBe(compile.x);
    expect(pack.x).toBeGreaterThan(compile.x + compile.width - 1);
    for (const edge of ["build-test1", "build-test2", "test1-publish", "test2-publish", "compile-package"]) {
      const path = page.getByTestId(`edge-${edge}`);
      await path.waitFor({ state: "attached" });
      expect(await path.getAttribute("class"), edge).toContain("s-completed");
      expect((await path.getAttribute("d"))?.startsWith("M"), edge).toBe(true);
    }
    expect(await page.getByTestId("edge-build-publish").count()).toBe(0);
    // The tab says how the run stands, in its title and its icon.
    expect(await page.title()).toMatch(/^✓ Completed · fan-out #1/);
    expect(await page.locator("link[rel=icon]").getAttribute("href")).toMatch(/^data:image\/svg\+xml,/);
    expect(await axe(page)).toEqual([]);
  }, 120_000);

  it("counts a disabled pipeline of a batch as not started, in the UI's words, also on a phone", async () => {
    for (const name of ["ok-a", "ok-b", "off-c"]) {
      await createPipelineVia(api, pid, { name, definition: shellPipeline("true") });
    }
    await page.goto(base());
    await page.getByTestId("disable-off-c").click();
    await page.getByTestId("banned-off-c").waitFor();
    for (const name of ["ok-a", "ok-b", "off-c"]) await page.getByTestId(`select-${name}`).check();
    await page.getByTestId("run-selected").click();
    await status(page, "start-off-c", "START_FAILED").waitFor();
    const notice = page.getByTestId("notices").getByText(/Started 2 of 3 pipelines/);
    await notice.waitFor();
    expect(await notice.textContent()).toContain("1 not started (disabled)");
    const reason = (await page.getByTestId("reason-off-c").textContent()) ?? "";
    expect(reason).toContain("disabled");
    expect(reason).not.toContain("banned");
    await status(page, "batch-status-ok-a", "COMPLETED").waitFor();
    await status(page, "batch-status-ok-b", "COMPLETED").waitFor();
    // Its row has no run status at all, and the list does not call its run failed.
    expect(await page.getByTestId("batch-status-off-c").locator("[data-status]").count()).toBe(0);
    await status(page, "latest-off-c", "START_FAILED").waitFor();
    expect(await page.getByTestId("latest-off-c").locator('[data-status="FAILED"]').count()).toBe(0);
    expect(await axe(page)).toEqual([]);

    // On a phone: no 32-hex run ids; start, status and duration within the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      expect(await page.getByTestId("batch-run-id-ok-a").isVisible()).toBe(false);
      const row = page.getByTestId("batch-row-ok-a");
      for (const cell of await row.locator("td").all()) {
        const b = (await cell.boundingBox())!;
        expect(b.x + b.width).toBeLessThanOrEqual(390);
      }
      expect(await page.getByTestId("batch-status-ok-a").isVisible()).toBe(true);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    await page.getByTestId("enable-off-c").click();
    await page.getByTestId("batch-dismiss").click();
  }, 120_000);

  it("shows a missing pipeline or run as such, once, with no dead buttons, and drops old errors", async () => {
    const missing = "0".repeat(32);
    await page.goto(base(`/pipelines/${missing}`));
    await page.getByTestId("not-found").getByText("Pipeline not found").waitFor();
    expect(await page.getByTestId("history-run").count()).toBe(0);
    expect(await page.getByTestId("alerts").locator(".notice").count()).toBe(0);
    expect(await axe(page)).toEqual([]);

    const real = await createPipelineVia(api, pid, { name: "real", definition: shellPipeline("true") });
    await page.goto(base(`/pipelines/${real}/runs/${missing}`));
    await page.getByTestId("not-found").getByText("Run not found").waitFor();
    expect(await page.getByTestId("stop-run").count()).toBe(0);

    await page.goto(base(`/pipelines/${missing}/edit`));
    await page.getByTestId("not-found").getByText("Pipeline not found").waitFor();
    expect(await page.getByTestId("editor-save").count()).toBe(0);

    // A project the token cannot see: one notice, which goes once the user moves on.
    await page.goto(`${server.url}/#/p/${missing}`);
    const alert = page.getByTestId("alerts").locator(".notice");
    await alert.first().waitFor();
    expect(await alert.count()).toBe(1);
    await page.getByTestId("nav-runs").click();
    await page.getByTestId("project-runs-table").waitFor();
    await page.getByTestId("nav-pipelines").click();
    await page.getByTestId("pipelines-table").waitFor();
    expect(await alert.count()).toBe(0);
  }, 120_000);

  it("lets the waiting part of a duration grow while a review waits", async () => {
    const id = await createPipelineVia(api, pid, {
      name: "gate",
      definition: definition([
        {
          identifier: "review",
          jobs: [
            {
              identifier: "approve",
              steps: [
                {
                  identifier: "approval",
                  task: "official_devcloud_checkpoint",
                  inputs: [{ key: "timeout", value: 600 }],
                },
              ],
            },
          ],
        },
      ]),
    });
    const started = await api.post(`/v5/${pid}/api/pipelines/${id}/run`, {});
    await page.goto(base(`/pipelines/${id}/runs/${started.body.pipeline_run_id}`));
    await status(page, "run-status", "PAUSED").waitFor();
    const dur = page.getByTestId("run-duration");
    await dur.getByText(/waiting\)/).waitFor();
    const first = /\((.+) waiting\)/.exec((await dur.textContent()) ?? "")?.[1];
    // No event comes while it waits: the page counts on by itself.
    await waitFor(
      async () => {
        const now = /\((.+) waiting\)/.exec((await dur.textContent()) ?? "")?.[1];
        return now !== undefined && now !== first;
      },
      30_000,
      "the waiting time to grow",
    );
    await page.getByTestId("refuse-approval").click();
    await status(page, "run-status", "FAILED").waitFor();
  }, 120_000);

  it("asks before leaving unsaved edits, and gives the YAML back as written after a look at the JSON", async () => {
    await page.goto(base("/new"));
    const editor = page.getByTestId("editor-text");
    await editor.waitFor();
    const original = await editor.inputValue();
    expect(original).toContain("# A pipeline in CodeArts's YAML form");
    await page.getByTestId("format-json").check();
    expect(await editor.inputValue()).toContain('"definition"');
    await page.getByTestId("format-yaml").check();
    expect(await editor.inputValue()).toBe(original);

    await editor.fill(`${original}# my note\n`);
    await page.getByTestId("nav-pipelines").click();
    const dialog = page.getByTestId("confirm-dialog");
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(page.url()).toContain("/new");
    expect(await editor.inputValue()).toContain("# my note");
    await page.getByTestId("nav-pipelines").click();
    await page.getByTestId("confirm").click();
    await page.getByTestId("pipelines-table").waitFor();
  }, 60_000);

  it("shows a run's description, variables and attempts", async () => {
    const marker = `/tmp/pw-ui16-${Math.random().toString(36).slice(2)}`;
    const id = await createPipelineVia(api, pid, {
      name: "flaky",
      definition: shellPipeline(`test -f ${marker} || { touch ${marker}; exit 1; }`),
      variables: [{ name: "target", value: "staging", is_runtime: true, is_secret: false }],
    });
    const run = await runAndWait(id, {
      description: "Nightly check",
      variables: [{ name: "target", value: "prod" }],
    });
    await page.goto(base(`/pipelines/${id}/runs/${run}`));
    await status(page, "run-status", "FAILED").waitFor();
    expect(await page.getByTestId("run-description").textContent()).toBe("Nightly check");
    expect(await page.getByTestId("run-var-target").textContent()).toContain("prod");
    await page.getByTestId("retry-run").click();
    await status(page, "run-status", "COMPLETED").waitFor();
    await page.getByTestId("attempt-job").waitFor();
    expect(await page.getByTestId("attempt-job").textContent()).toContain("Attempt 2");
    expect(await page.getByTestId("run-attempts").textContent()).toContain("attempt 2");
  }, 120_000);

  it("lists the project's runs with filters kept in the URL", async () => {
    await page.goto(base("/runs"));
    await page.getByTestId("project-runs-table").waitFor();
    await page.getByTestId("runs-row-fan-out-1").waitFor();
    expect(await axe(page)).toEqual([]);
    await page.getByTestId("runs-status").selectOption("FAILED");
    await page.waitForURL(/status=FAILED/);
    await page.getByTestId("runs-row-gate-1").waitFor();
    await waitFor(
      async () => (await page.getByTestId("runs-row-fan-out-1").count()) === 0,
      20_000,
      "filtered",
    );
    await page.getByTestId("runs-pipeline").selectOption({ label: "gate" });
    await page.waitForURL(/pipeline=/);
    // A reload (or a shared link) shows the same filtered runs.
    await page.reload();
    await page.getByTestId("runs-row-gate-1").waitFor();
    expect(await page.getByTestId("runs-status").inputValue()).toBe("FAILED");
    expect(await page.locator("[data-testid^=runs-row-]").count()).toBe(1);
    // The branch is matched in the page, and the page says so.
    await page.getByTestId("runs-clear").click();
    await page.getByTestId("runs-branch").fill("no-such-branch");
    await page.getByTestId("runs-branch-note").waitFor();
    await page.getByTestId("runs-empty").getByText("No run matches").waitFor();
    await page.waitForURL(/branch=no-such-branch/);
  }, 120_000);

  it("has keyboard shortcuts, listed by ?", async () => {
    await page.goto(base());
    await page.getByTestId("pipelines-table").waitFor();
    await page.locator("body").click({ position: { x: 5, y: 300 } });
    await page.keyboard.press("?");
    const dialog = page.locator("dialog[data-testid=shortcuts]");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("Go to the project's runs");
    expect(await axe(page)).toEqual([]);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.keyboard.press("g");
    await page.keyboard.press("r");
    await page.waitForURL(/\/runs/);
    // The Runs page renders after the URL changes: its filter must be there to take the focus.
    await page.getByTestId("runs-branch").waitFor();
    await page.keyboard.press("/");
    expect(await page.evaluate("document.activeElement?.id")).toBe("runs-branch");
    // Typed into a field, the keys are text.
    await page.keyboard.type("n");
    expect(page.url()).toMatch(/\/runs/);
  }, 60_000);

  it("offers a viewer no Run, Edit, Disable or Delete", async () => {
    const viewerToken = (
      await admin.post("/admin/v1/tokens", { name: "viewer", role: "viewer", project_ids: [pid] })
    ).body.token;
    const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const p = await newPage(ctx2);
      await signInWith(p, server.url, viewerToken);
      await p.goto(base());
      await p.getByTestId("row-real").waitFor();
      for (const action of ["run", "edit", "disable", "delete", "tags"]) {
        expect(await p.getByTestId(`${action}-real`).count(), action).toBe(0);
      }
      const real = (await api.post(`/v5/${pid}/api/pipelines/list`, { name: "real" })).body.pipelines[0]
        .pipeline_id;
      await p.goto(base(`/pipelines/${real}`));
      await p.getByRole("heading", { name: "real" }).waitFor();
      expect(await p.getByTestId("history-run").isVisible()).toBe(false);
      expect(await p.getByTestId("history-edit").isVisible()).toBe(false);
      // The admin still sees them.
      await page.goto(base());
      await page.getByTestId("run-real").waitFor();
    } finally {
      await ctx2.close();
    }
  }, 60_000);

  it("says so when the server stops under an open run page, and freezes what it cannot know", async () => {
    const other = await startServerProcess();
    try {
      const a = client(other.url, E2E_ADMIN_TOKEN);
      const proj = (await a.post("/admin/v1/projects", { name: "stopping" })).body.project_id;
      const id = await createPipelineVia(a, proj, { name: "long", definition: shellPipeline("sleep 60") });
      const run = (await a.post(`/v5/${proj}/api/pipelines/${id}/run`, {})).body.pipeline_run_id;
      const ctx3 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const p = await newPage(ctx3);
        await signInWith(p, other.url, E2E_ADMIN_TOKEN);
        await p.goto(`${other.url}/#/p/${proj}/pipelines/${id}/runs/${run}`);
        await status(p, "run-status", "RUNNING").waitFor();
        await other.stop();
        await p.getByTestId("offline-banner").waitFor();
        await p.locator("[data-testid=run-status][data-stale]").waitFor();
        const frozen = await p.getByTestId("run-duration").textContent();
        await p.waitForTimeout(2500);
        expect(await p.getByTestId("run-duration").textContent()).toBe(frozen);
        // The list's polls fail again and again: one notice, in words that say what happened.
        await p.getByTestId("nav-pipelines").click();
        const alerts = p.getByTestId("alerts").locator(".notice");
        await alerts.first().waitFor();
        await p.waitForTimeout(6000);
        expect(await alerts.count()).toBe(1);
        const text = (await alerts.first().textContent()) ?? "";
        expect(text).toContain("The server is not answering");
        expect(text).not.toContain("Failed to fetch");
      } finally {
        await ctx3.close();
      }
    } finally {
      await other.stop().catch(() => undefined);
    }
  }, 120_000);

  it("saw no script errors", () => {
    expect(pageErrors.filter((e) => !e.includes("net::ERR_CONNECTION_REFUSED"))).toEqual([]);
  });
});
