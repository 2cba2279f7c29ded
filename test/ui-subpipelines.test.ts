// Sub-pipelines in the web UI, in Debian's headless Chromium against the real `pipewright serve`:
// a parent run's sub-pipeline step links to its child run, and the child run's page links back to
// the parent run, naming the parent's run and step.

import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, LONG, newPage, signIn } from "./helpers/browser.js";
import {
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  runDetail,
  type ServerProcess,
  shellPipeline,
  startRun,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

describe.skipIf(!hasChromium)("sub-pipelines in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServerProcess();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await newPage(await browser.newContext({ viewport: { width: 1280, height: 800 } }), pageErrors);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("links the sub-pipeline step to its child run and the child run back to the parent", async () => {
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const project = await admin.post("/admin/v1/projects", { name: "ui-subpipelines" });
    const pid = project.body.project_id;
    const t = await admin.post("/admin/v1/tokens", { name: "ui", role: "admin", project_ids: [pid] });
    const api = client(server.url, t.body.token);
    const child = await createPipelineVia(api, pid, {
      name: "deploy-child",
      definition: shellPipeline("echo child"),
    });
    const parent = await createPipelineVia(api, pid, {
      name: "release-parent",
      definition: definition([
        {
          identifier: "s",
          jobs: [
            {
              identifier: "j",
              steps: [
                {
                  name: "Deploy service",
                  identifier: "deploy_service",
                  task: "official_devcloud_subPipeline",
                  inputs: [{ key: "SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID", value: child }],
                },
              ],
            },
          ],
        },
      ]),
    });
    const runId = await startRun(api, pid, parent);
    const done = await waitForRun(api, pid, parent, runId);
    expect(done.status).toBe("COMPLETED");
    const childRunId = (await runDetail(api, pid, child)).id;

    await signIn(page, server.url, t.body.token);
    await page.goto(`${server.url}/#/p/${pid}/pipelines/${parent}/runs/${runId}`);
    const link = page.getByTestId("child-deploy_service");
    await expect.poll(() => link.textContent(), { timeout: LONG }).toBe("→ deploy-child #1 COMPLETED");
    expect(await page.getByTestId("parent-run").isHidden()).toBe(true);

    await link.click();
    await page.waitForURL(`**/#/p/${pid}/pipelines/${child}/runs/${childRunId}`, { timeout: LONG });
    const back = page.getByTestId("parent-run");
    await expect
      .poll(() => back.textContent(), { timeout: LONG })
      .toBe("Started by release-parent #1 › Deploy service");
    await back.click();
    await page.waitForURL(`**/#/p/${pid}/pipelines/${parent}/runs/${runId}`, { timeout: LONG });
    expect(pageErrors).toEqual([]);
  });
});
