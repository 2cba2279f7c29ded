// The web UI in a real browser: Debian's headless Chromium driven by playwright-core against the
// real `pipewright serve`. Sign in, the editor, batch runs, live run view and logs, stop, retry,
// manual review, history; and the screenshots shown in the README.

import fs from "node:fs";
import path from "node:path";
import Fastify from "fastify";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerSecurityHeaders } from "../src/api/security-headers.js";
import { registerWebRoutes } from "../src/api/web-routes.js";
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
  startServerProcess,
  waitFor,
} from "./helpers/server.js";

/** `npm run screenshots` writes docs/screenshot-*.png; a plain test run writes them to a temp dir. */
const SHOTS =
  process.env.PIPEWRIGHT_SCREENSHOTS === "1"
    ? path.resolve(import.meta.dirname, "..", "docs")
    : tempDir("pipewright-shots-");

describe("web UI routes", () => {
  it("answer 503 with a hint until the UI is built, then serve only files below their root", async () => {
    const root = tempDir("pipewright-web-");
    const app = Fastify();
    // The CSP comes from the app's one header policy, as buildApp registers it.
    registerSecurityHeaders(app);
    registerWebRoutes(app, { root });
    const unbuilt = await app.inject({ url: "/" });
    expect(unbuilt.statusCode).toBe(503);
    expect(unbuilt.body).toContain("npm run build");

    fs.mkdirSync(path.join(root, "assets"));
    fs.writeFileSync(path.join(root, "index.html"), "<!doctype html><title>Pipewright</title>");
    fs.writeFileSync(path.join(root, "assets", "index-abc.css"), "body{}");
    const index = await app.inject({ url: "/" });
    expect(index.statusCode).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["content-security-policy"]).toContain("default-src 'self'");
    const css = await app.inject({ url: "/ui/assets/index-abc.css" });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.headers["cache-control"]).toContain("immutable");
    for (const url of [
      "/ui/%2e%2e/%2e%2e/package.json",
      "/ui/assets/missing.js",
      "/ui/assets",
      "/ui/a%00b",
    ]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404);
    }
    await app.close();
  });
});

describe.skipIf(!hasChromium)("web UI in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: Client;
  let token: string;
  let alpha: { id: string; name: string };
  let beta: { id: string; name: string };
  const pageErrors: string[] = [];

  /** A status pill (or anything with data-status) inside the element with this test id. */
  const statusOf = (testid: string, status: string): Locator =>
    page
      .locator(
        `[data-testid="${testid}"][data-status="${status}"], [data-testid="${testid}"] [data-status="${status}"]`,
      )
      .first();

  /** Closes the notices (they fade by themselves, but would cover part of a screenshot). */
  async function dismissNotices(): Promise<void> {
    for (const close of await page.locator(".notice-close").all()) await close.click().catch(() => undefined);
    await page.mouse.move(0, 0);
  }

  const runPath = (pid: string, id: string) => `/v5/${pid}/api/pipelines/${id}`;

  async function latestRun(pid: string, pipelineId: string): Promise<{ id: string; status: string }> {
    const res = await api.get(`${runPath(pid, pipelineId)}/pipeline-runs/detail`);
    return res.body;
  }

  beforeAll(async () => {
    server = await startServerProcess();
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const suffix = Math.random().toString(36).slice(2, 7);
    const a = await admin.post("/admin/v1/projects", { name: `alpha-${suffix}` });
    const b = await admin.post("/admin/v1/projects", { name: `beta-${suffix}` });
    alpha = { id: a.body.project_id, name: `alpha-${suffix}` };
    beta = { id: b.body.project_id, name: `beta-${suffix}` };
    const t = await admin.post("/admin/v1/tokens", {
      name: "web-ui",
      role: "admin",
      project_ids: [alpha.id, beta.id],
    });
    token = t.body.token;
    api = client(server.url, token);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(LONG);
    page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      // Chromium reports every 4xx answer as "Failed to load resource"; the tests cause some on purpose.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
        pageErrors.push(`console: ${m.text()}`);
      }
    });
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

  it("serves the UI at / with its assets, kept out of the OpenAPI document", async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toContain("text/html");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    const js = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    const asset = await fetch(`${server.url}${js}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("text/javascript");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${server.url}/ui/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/ui/..%2F..%2Fpackage.json`)).status).toBe(404);
    const openapi = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths).filter((p) => p === "/" || p.startsWith("/ui"))).toEqual([]);
  }, 60_000);

  it("signs in with a token and picks a project", async () => {
    await page.goto(`${server.url}/`);
    await page.getByTestId("token").fill("pw_not_a_real_token");
    await page.getByTestId("sign-in").click();
    await page.getByTestId("login-error").getByText("not valid").waitFor();

    await page.getByTestId("token").fill(token);
    await page.getByTestId("sign-in").click();
    await page.getByTestId("pipelines-table").waitFor();
    const picker = page.getByTestId("project-picker");
    expect(await picker.locator("option").allTextContents()).toEqual([alpha.name, beta.name]);
    await picker.selectOption({ label: beta.name });
    await page.waitForURL(`**/#/p/${beta.id}`);
    await page.getByTestId("empty").getByText("No pipelines yet").waitFor();
    // The token lives in the tab's session: a reload keeps the user signed in.
    await page.reload();
    await page.getByTestId("pipelines-table").waitFor();
    expect(await picker.inputValue()).toBe(beta.id);
  }, 120_000);

  it("creates a pipeline in the editor, pointing errors at their line", async () => {
    await createPipelineVia(api, beta.id, { name: "taken", definition: shellPipeline("true") });
    await page.getByTestId("nav-new").click();
    const editor = page.getByTestId("editor-text");
    await editor.waitFor();
    const yaml = [
      "name: taken",
      "stages:",
      "  - name: Build",
      "    jobs:",
      "      - name: Compile",
      "        steps:",
      "          - name: Say hello",
      "            uses: official_devcloud_deploy",
      "            with:",
      "              script: echo hello from the editor",
      "",
    ].join("\n");

    // Checked in the browser by the same converter the CLI uses: nothing is sent.
    await editor.fill(yaml);
    await page.getByTestId("editor-save").click();
    await page.getByTestId("editor-error-line").getByText("Line 8, column 13").waitFor();
    expect(await page.getByTestId("editor-error-path").textContent()).toBe("stages[0].jobs[0].steps[0].uses");
    expect(await page.getByTestId("editor-error-message").textContent()).toContain("unsupported task");

    // Refused by the server: its field path is found in the YAML.
    await editor.fill(yaml.replace("official_devcloud_deploy", "official_shell_plugin"));
    await page.getByTestId("editor-save").click();
    await page.getByTestId("editor-error-path").getByText("name", { exact: true }).waitFor();
    expect(await page.getByTestId("editor-error-line").textContent()).toBe("Line 1, column 1");
    expect(await page.getByTestId("editor-error").textContent()).toContain("DEVPIPE.");

    // JSON is the request body, sent as written; the server's definition path lands on its line.
    await editor.fill(
      yaml.replace("official_devcloud_deploy", "official_shell_plugin").replace("taken", "from-editor"),
    );
    await page.getByTestId("format-json").check();
    const json = await editor.inputValue();
    expect(JSON.parse(json).definition.stages[0].jobs[0].steps[0].task).toBe("official_shell_plugin");
    const bad = json.replace('"official_shell_plugin"', '"official_devcloud_deploy"');
    await editor.fill(bad);
    await page.getByTestId("editor-save").click();
    await page
      .getByTestId("editor-error-path")
      .getByText("definition.stages[0].jobs[0].steps[0].task")
      .waitFor();
    const taskLine = bad.split("\n").findIndex((l) => l.includes('"task"')) + 1;
    expect(await page.getByTestId("editor-error-line").textContent()).toMatch(
      new RegExp(`^Line ${taskLine},`),
    );
    expect((await api.post(`/v5/${beta.id}/api/pipelines/list`, { name: "from-editor" })).body.total).toBe(0);

    await editor.fill(json);
    await page.getByTestId("editor-save").click();
    await page.getByRole("heading", { level: 1, name: "from-editor" }).waitFor();
    const list = await api.post(`/v5/${beta.id}/api/pipelines/list`, { name: "from-editor" });
    expect(list.body.total).toBe(1);
    const created = await api.get(runPath(beta.id, list.body.pipelines[0].pipeline_id));
    const step = JSON.parse(created.body.definition).stages[0].jobs[0].steps[0];
    expect(step.inputs).toEqual([
      { key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "echo hello from the editor" },
    ]);

    // Edit it again: the stored pipeline comes back as YAML.
    await page.getByTestId("history-edit").click();
    // Polled through the locator: a string predicate would need eval, which the UI's CSP forbids.
    await expect.poll(async () => (await editor.inputValue()).includes("name: from-editor")).toBe(true);
    const text = await editor.inputValue();
    await editor.fill(
      text.replace("name: from-editor", "name: from-editor\ndescription: edited in the browser"),
    );
    await page.getByTestId("editor-save").click();
    await page.getByRole("heading", { level: 1, name: "from-editor" }).waitFor();
    const edited = await api.get(runPath(beta.id, list.body.pipelines[0].pipeline_id));
    expect(edited.body.description).toBe("edited in the browser");
  }, 120_000);

  it("runs three selected pipelines in one batch and follows them to COMPLETED", async () => {
    const ids: Record<string, string> = {};
    for (const name of ["batch-a", "batch-b", "batch-c"]) {
      ids[name] = await createPipelineVia(api, beta.id, {
        name,
        definition: shellPipeline(`echo ${name}; sleep 0.5`),
      });
    }
    await page.getByTestId("nav-pipelines").click();
    await page.getByTestId("row-batch-c").waitFor();
    for (const name of ["batch-a", "batch-b", "batch-c"]) await page.getByTestId(`select-${name}`).check();
    expect(await page.getByTestId("run-selected").textContent()).toBe("Run selected (3)");
    await page.getByTestId("run-selected").click();

    const panel = page.getByTestId("batch-result");
    await panel.waitFor();
    for (const name of ["batch-a", "batch-b", "batch-c"]) {
      await statusOf(`start-${name}`, "START_SUCCESS").waitFor();
      await statusOf(`batch-status-${name}`, "COMPLETED").waitFor();
      await statusOf(`latest-${name}`, "COMPLETED").waitFor();
      const run = await latestRun(beta.id, ids[name]!);
      expect(run.status).toBe("COMPLETED");
      // The row names and links to the run the batch started.
      expect((await page.getByTestId(`batch-run-id-${name}`).textContent())?.trim()).toBe(run.id);
      expect(await page.getByTestId(`batch-row-${name}`).locator("a").getAttribute("href")).toContain(run.id);
    }
    for (const name of ["batch-a", "batch-b", "batch-c"]) {
      const runs = await api.post(`${runPath(beta.id, ids[name]!)}/pipeline-runs/list`, {});
      expect(runs.body.total).toBe(1);
    }
  }, 120_000);

  it("disables a pipeline, whose batch start then fails with its reason, and enables it", async () => {
    await page.getByTestId("disable-batch-c").click();
    await page.getByTestId("banned-batch-c").waitFor();
    await page.getByTestId("select-batch-a").check();
    await page.getByTestId("select-batch-c").check();
    await page.getByTestId("run-selected").click();
    await statusOf("start-batch-c", "START_FAILED").waitFor();
    // The UI's word is "disabled", as everywhere else in it (the server says "banned").
    expect(await page.getByTestId("reason-batch-c").textContent()).toBe(
      "The pipeline is disabled: enable it to run it.",
    );
    await statusOf("start-batch-a", "START_SUCCESS").waitFor();
    await statusOf("batch-status-batch-a", "COMPLETED").waitFor();
    await page.getByTestId("enable-batch-c").click();
    await page.getByTestId("disable-batch-c").waitFor();
    expect(await page.getByTestId("banned-batch-c").count()).toBe(0);
    await page.getByTestId("batch-dismiss").click();
  }, 120_000);

  it("filters by name, pages, and deletes after confirmation", async () => {
    for (let i = 1; i <= 12; i++) {
      await createPipelineVia(api, beta.id, {
        name: `page-${String(i).padStart(2, "0")}`,
        definition: shellPipeline("true"),
      });
    }
    await page.getByTestId("filter").fill("page-");
    await page.locator(".pager").getByText("1–10 of 12").waitFor();
    expect(await page.locator("tbody tr[data-testid^=row-page-]").count()).toBe(10);
    await page.getByTestId("page-next").click();
    await page.locator(".pager").getByText("11–12 of 12").waitFor();

    const victim = (await page
      .locator("tbody tr[data-testid^=row-page-]")
      .first()
      .getAttribute("data-testid"))!.slice(4);
    await page.getByTestId(`delete-${victim}`).click();
    await page.getByTestId("confirm-dialog").getByRole("button", { name: "Cancel" }).click();
    expect(await page.getByTestId(`row-${victim}`).count()).toBe(1);
    await page.getByTestId(`delete-${victim}`).click();
    await page.getByTestId("confirm").click();
    await page.getByTestId(`row-${victim}`).waitFor({ state: "detached" });
    expect((await api.post(`/v5/${beta.id}/api/pipelines/list`, { name: victim })).body.total).toBe(0);
    await page.locator(".pager").getByText("11–11 of 11").waitFor();

    // The newest pipelines come first: the batch ones are on the second page now.
    await page.getByTestId("filter").fill("batch-");
    await page.locator(".pager").getByText("1–3 of 3").waitFor();
  }, 120_000);

  it("is usable from the keyboard: select, open the run dialog, close it", async () => {
    await page.getByTestId("select-batch-b").focus();
    await page.keyboard.press("Space");
    expect(await page.getByTestId("select-batch-b").isChecked()).toBe(true);
    await page.keyboard.press("Space");
    await page.getByTestId("run-batch-b").focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("run-dialog").waitFor();
    await page.keyboard.press("Escape");
    await page.getByTestId("run-dialog").waitFor({ state: "detached" });
    await page.getByTestId("filter").fill("");
    await page.locator(".pager").getByText("1–10 of 16").waitFor();
  }, 120_000);

  it("runs one pipeline with a runtime variable and a stage choice, streams its log, and stops it", async () => {
    const id = await createPipelineVia(api, beta.id, {
      name: "long-job",
      variables: [{ name: "target", value: "default", is_runtime: true }],
      definition: definition([
        { identifier: "prep", jobs: [{ identifier: "prep_job", steps: [{ script: "echo prepared" }] }] },
        {
          identifier: "work",
          jobs: [
            {
              identifier: "work_job",
              steps: [
                {
                  identifier: "work_step",
                  script:
                    "printf '\\033[32mgreen %s\\033[0m\\n' \"$target\"; echo started; " +
                    "for i in $(seq 1 600); do echo tick $i; sleep 0.1; done",
                },
              ],
            },
          ],
        },
      ]),
    });
    await page.getByTestId("run-long-job").click();
    await page.getByTestId("run-dialog").waitFor();
    await page.getByTestId("var-target").fill("from-ui");
    await page.getByTestId("choose-stage-prep").uncheck();
    await page.getByTestId("run-submit").click();
    await page.waitForURL(`**/#/p/${beta.id}/pipelines/${id}/runs/*`);

    const log = page.getByTestId("log");
    await log.getByText("started").waitFor();
    expect(await log.locator(".ansi-fg-2").first().textContent()).toBe("green from-ui");
    await statusOf("step-work_step", "RUNNING").waitFor();
    await page.locator('[data-testid="stage-prep"] .stage-head [data-status="UNSELECTED"]').waitFor();

    // The log pane keeps its place and size while output streams in.
    const before = await log.boundingBox();
    await log.getByText("tick 15").waitFor();
    const after = await log.boundingBox();
    expect(after).toEqual(before);
    await page.getByTestId("log-follow").click();
    expect(await page.getByTestId("log-follow").getAttribute("aria-pressed")).toBe("false");
    await page.getByTestId("log-follow").click();
    expect(await page.getByTestId("log-follow").getAttribute("aria-pressed")).toBe("true");

    const download = page.waitForEvent("download");
    await page.getByTestId("log-download").click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.log$/);
    const text = fs.readFileSync((await file.path())!, "utf8");
    expect(text).toContain("green from-ui\nstarted\n");
    expect(text).not.toContain("\u001b[");

    await page.getByTestId("stop-run").click();
    await statusOf("run-status", "CANCELED").waitFor();
    const run = await latestRun(beta.id, id);
    expect(run.status).toBe("CANCELED");
    expect(await page.getByTestId("stop-run").isHidden()).toBe(true);
  }, 120_000);

  it("retries a failed run from the run view until it passes, and shows it in the history", async () => {
    const marker = path.join(tempDir("pipewright-ui-retry-"), "tried");
    const id = await createPipelineVia(api, beta.id, {
      name: "flaky",
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "flaky_job",
              steps: [
                {
                  identifier: "flaky_step",
                  script: `if [ -f '${marker}' ]; then echo second try; else touch '${marker}'; echo first try; exit 3; fi`,
                },
              ],
            },
          ],
        },
      ]),
    });
    await page.getByTestId("nav-pipelines").click();
    await page.getByTestId("row-flaky").getByRole("link", { name: "flaky", exact: true }).click();
    await page.getByTestId("history-run").click();
    await page.getByTestId("run-submit").click();
    await statusOf("run-status", "FAILED").waitFor();
    await page.getByTestId("log").getByText("first try").waitFor();
    await page.getByTestId("retry-run").click();
    await statusOf("run-status", "COMPLETED").waitFor();
    await page.getByTestId("log").getByText("second try").waitFor();
    const run = await latestRun(beta.id, id);
    expect(run.status).toBe("COMPLETED");

    await page.getByRole("link", { name: "History" }).click();
    await statusOf("run-row-1", "COMPLETED").waitFor();
    expect(await page.getByTestId("history-chart").getAttribute("aria-label")).toContain("1 completed");
  }, 120_000);

  it("passes a manual review", async () => {
    const id = await createPipelineVia(api, beta.id, {
      name: "gated",
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
        { identifier: "ship", jobs: [{ identifier: "ship_job", steps: [{ script: "echo shipped" }] }] },
      ]),
    });
    const started = await api.post(`${runPath(beta.id, id)}/run`, {});
    await page.goto(`${server.url}/#/p/${beta.id}/pipelines/${id}/runs/${started.body.pipeline_run_id}`);
    await statusOf("run-status", "PAUSED").waitFor();
    await page.getByTestId("pass-approval").click();
    await statusOf("run-status", "COMPLETED").waitFor();
    await statusOf("step-approval", "COMPLETED").waitFor();
    expect((await latestRun(beta.id, id)).status).toBe("COMPLETED");
  }, 120_000);

  it("saves screenshots of the main views, at 1280 px and phone width", async () => {
    // A small, realistic project: a few pipelines with some history, a release waiting for review.
    const p = alpha.id;
    const sh = (name: string, script: string, identifier?: string) => ({
      name,
      script,
      ...(identifier ? { identifier } : {}),
    });
    const names = ["api-build", "web-frontend", "nightly-e2e", "docs-site", "db-migrations"];
    const ids: string[] = [];
    for (const name of names) {
      const script =
        name === "nightly-e2e"
          ? "echo flaky; sleep 0.4; exit 1"
          : `echo ${name}; sleep 0.${names.indexOf(name) + 2}`;
      ids.push(await createPipelineVia(api, p, { name, definition: shellPipeline(script) }));
    }
    for (let i = 0; i < 5; i++) {
      const res = await api.post(`/v5/${p}/api/pipelines/batch-runs`, { pipeline_ids: ids });
      expect(res.status).toBe(200);
      await waitFor(
        async () => {
          const st = await api.post(`/v5/${p}/api/pipelines/status`, ids);
          return st.body.every((r: { status: string }) => ["COMPLETED", "FAILED"].includes(r.status));
        },
        LONG,
        "runs to finish",
      );
    }
    const release = await createPipelineVia(api, p, {
      name: "release",
      variables: [{ name: "region", value: "eu-west-1", is_runtime: true }],
      definition: definition([
        {
          identifier: "build",
          name: "Build",
          jobs: [
            {
              identifier: "compile",
              name: "Compile",
              steps: [
                sh("Checkout", "echo cloning app; sleep 0.2"),
                sh(
                  "Make",
                  "printf '\\033[1mmake\\033[0m all\\n'; for m in core api web cli; do printf '\\033[36m[make]\\033[0m compiling %s\\n' $m; sleep 0.1; done; printf '\\033[32m✓ build ok\\033[0m (4 modules)\\n'",
                  "make",
                ),
              ],
            },
            {
              identifier: "lint",
              name: "Lint",
              steps: [
                sh("Biome", "echo checked 212 files; printf '\\033[33mwarning\\033[0m: 1 unused import\\n'"),
              ],
            },
          ],
        },
        {
          identifier: "test",
          name: "Test",
          jobs: [
            {
              identifier: "unit",
              name: "Unit tests",
              steps: [
                sh("Vitest", "echo running 318 tests; sleep 0.6; printf '\\033[32m318 passed\\033[0m\\n'"),
              ],
            },
            {
              identifier: "integration",
              name: "Integration",
              steps: [sh("Compose up", "echo services up; sleep 0.8; echo 41 passed")],
            },
          ],
        },
        {
          identifier: "deploy",
          name: "Deploy",
          jobs: [
            {
              identifier: "approve",
              name: "Approve",
              steps: [
                {
                  name: "Manual review",
                  identifier: "review",
                  task: "official_devcloud_checkpoint",
                  inputs: [{ key: "timeout", value: 3600 }],
                },
              ],
            },
            {
              identifier: "ship",
              name: "Ship",
              depends_on: ["approve"],
              steps: [sh("Deploy", 'echo "deploying to $region"')],
            },
          ],
        },
      ]),
    });
    const run = (await api.post(`${runPath(p, release)}/run`, {})).body.pipeline_run_id as string;

    await page.getByTestId("project-picker").selectOption({ label: alpha.name });
    await page.getByTestId("row-release").waitFor();
    for (const name of ["api-build", "web-frontend", "docs-site"])
      await page.getByTestId(`select-${name}`).check();
    await page.getByTestId("run-selected").click();
    for (const name of ["api-build", "web-frontend", "docs-site"])
      await statusOf(`batch-status-${name}`, "COMPLETED").waitFor();
    await statusOf("latest-release", "PAUSED").waitFor();
    await dismissNotices();
    await page.screenshot({ path: path.join(SHOTS, "screenshot-pipelines.png") });

    await page.goto(`${server.url}/#/p/${p}/pipelines/${release}/runs/${run}`);
    await statusOf("run-status", "PAUSED").waitFor();
    await page.getByTestId("step-make").click();
    await page.getByTestId("log").getByText("build ok").waitFor();
    await dismissNotices();
    await page.screenshot({ path: path.join(SHOTS, "screenshot-run.png") });

    await page.goto(`${server.url}/#/p/${p}/new`);
    const editor = page.getByTestId("editor-text");
    await editor.waitFor();
    const template = await editor.inputValue();
    await editor.fill(
      template
        .replace('script: echo "all good"', "script: npm test")
        .replace(
          /uses: official_shell_plugin(?![\s\S]*uses: official_shell_plugin)/,
          "uses: official_npm_test",
        ),
    );
    await page.getByTestId("editor-error-line").waitFor();
    await editor.blur();
    // Most of the text and its highlighted line in one picture.
    await page.evaluate("document.querySelector('[data-testid=editor-text]').scrollTop = 80");
    await dismissNotices();
    await page.screenshot({ path: path.join(SHOTS, "screenshot-editor.png") });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/#/p/${p}`);
    // The editor holds unsaved text: leaving asks first.
    await page.getByTestId("confirm").click();
    await page.getByTestId("row-release").waitFor();
    await statusOf("latest-release", "PAUSED").waitFor();
    // Nothing sticks out sideways at phone width.
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await dismissNotices();
    await page.screenshot({ path: path.join(SHOTS, "screenshot-phone.png") });
    await page.goto(`${server.url}/#/p/${p}/pipelines/${release}/runs/${run}`);
    await statusOf("run-status", "PAUSED").waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 800 });

    for (const f of ["pipelines", "run", "editor", "phone"]) {
      expect(fs.statSync(path.join(SHOTS, `screenshot-${f}.png`)).size).toBeGreaterThan(10_000);
    }
  }, 180_000);

  it("signs out, and the browser saw no script errors", async () => {
    await page.getByTestId("sign-out").click();
    await page.getByTestId("token").waitFor();
    expect(await page.evaluate("sessionStorage.getItem('pipewright.token')")).toBeNull();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
