// Pipeline templates in the web UI, in Debian's headless Chromium against the real `pipewright
// serve`: the templates page reached from the header, the pipeline list and the new-pipeline
// editor; the built-in and the project's templates with their stages; a pipeline created from a
// built-in one (checked against the API, and it runs), a taken name refused beside the form with
// what was typed kept, a project template deleted, and a phone's width.

import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_TEMPLATES } from "../src/pipeline/built-in-templates.js";
import { shellDefinition, tempDir } from "./helpers/app.js";
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
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

describe.skipIf(!hasChromium)(
  "pipeline templates in Chromium (skipped: Debian chromium not installed)",
  () => {
    let server: ServerProcess;
    let browser: Browser;
    let page: Page;
    let api: Client;
    let token: string;
    let pid: string;
    let ownId: string;
    const pageErrors: string[] = [];
    const newPage = (ctx: BrowserContext): Promise<Page> => openPage(ctx, pageErrors);
    const SHELL = BUILT_IN_TEMPLATES[0]!;

    beforeAll(async () => {
      server = await startServerProcess();
      const admin = client(server.url, E2E_ADMIN_TOKEN);
      const project = await admin.post("/admin/v1/projects", {
        name: `tpl-${Math.random().toString(36).slice(2, 7)}`,
      });
      pid = project.body.project_id;
      const t = await admin.post("/admin/v1/tokens", { name: "ui-admin", role: "admin", project_ids: [pid] });
      token = t.body.token;
      api = client(server.url, token);
      const own = await api.post(`/v5/${pid}/api/pipeline-templates`, {
        name: "Team build",
        language: "go",
        definition: shellDefinition("echo team"),
      });
      expect(own.status).toBe(200);
      ownId = own.body.templateId;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      page = await newPage(context);
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

    it("offers templates from the list and the new-pipeline editor; creates a pipeline from a built-in one", async () => {
      await signInWith(page, server.url, token);
      await page.getByTestId("from-template").click();
      await page.getByRole("heading", { name: "Pipeline templates" }).waitFor();
      const builtIn = page.getByTestId("templates-built-in");
      for (const b of BUILT_IN_TEMPLATES) await builtIn.getByTestId(`template-${b.id}`).waitFor();
      expect(await page.getByTestId("templates-own").getByTestId(`template-${ownId}`).count()).toBe(1);
      const card = builtIn.getByTestId(`template-${SHELL.id}`);
      expect(await card.getByTestId("template-stages").textContent()).toBe("Stages: Build and test");
      // Only templates that check code out ask for a repository.
      expect(await card.getByTestId("template-git-url").count()).toBe(0);
      const node = BUILT_IN_TEMPLATES.find((b) => b.is_show_source)!;
      expect(await builtIn.getByTestId(`template-${node.id}`).getByTestId("template-git-url").count()).toBe(
        1,
      );

      // The editor's new page leads here too.
      await page.getByTestId("nav-new").click();
      await page.getByTestId("editor-templates").click();
      await page.getByRole("heading", { name: "Pipeline templates" }).waitFor();

      const again = page.getByTestId("templates-built-in").getByTestId(`template-${SHELL.id}`);
      await again.getByLabel("Pipeline name").fill("from-ui");
      await again.getByTestId("template-use").click();
      await page.waitForURL(/#\/p\/\w+\/pipelines\/\w+$/);
      const pipelineId = /pipelines\/(\w+)$/.exec(page.url())![1]!;
      const p = (await api.get(`/v5/${pid}/api/pipelines/${pipelineId}`)).body;
      expect(p).toMatchObject({ name: "from-ui" });
      expect(JSON.parse(p.definition)).toEqual(JSON.parse(SHELL.definition));
      const run = await api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, {});
      expect((await waitForRun(api, pid, pipelineId, run.body.pipeline_run_id)).status).toBe("COMPLETED");

      // A taken name: refused beside the form, what was typed kept, nothing created.
      await page.getByTestId("nav-templates").click();
      const form = page.getByTestId("templates-built-in").getByTestId(`template-${SHELL.id}`);
      await form.getByLabel("Pipeline name").fill("from-ui");
      await form.getByTestId("template-use").click();
      const error = form.getByTestId("template-error");
      await error.waitFor();
      expect(await error.textContent()).toContain("from-ui");
      expect(await form.getByLabel("Pipeline name").inputValue()).toBe("from-ui");
      expect((await api.post(`/v5/${pid}/api/pipelines/list`, {})).body.total).toBe(1);
      expect(pageErrors).toEqual([]);
    });

    it("deletes a project template after confirming; built-in ones have no delete", async () => {
      await page.goto(`${server.url}/#/p/${pid}/templates`);
      const own = page.getByTestId("templates-own").getByTestId(`template-${ownId}`);
      await own.waitFor();
      expect(await page.getByTestId("templates-built-in").getByTestId("template-delete").count()).toBe(0);
      await own.getByTestId("template-delete").click();
      await page.getByTestId("confirm").click();
      await own.waitFor({ state: "detached" });
      expect((await api.get(`/v5/${pid}/api/pipeline-templates/${ownId}`)).status).toBe(404);

      // Within a phone's width nothing runs off the side.
      await page.setViewportSize({ width: 375, height: 740 });
      await page.getByTestId(`template-${SHELL.id}`).waitFor();
      const overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth");
      expect(overflow).toBeLessThanOrEqual(0);
      expect(pageErrors).toEqual([]);
    });
  },
);
