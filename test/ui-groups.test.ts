// Pipeline groups in the web UI, in Debian's headless Chromium against the real `pipewright serve`:
// groups created (one inside another), renamed and deleted in Manage groups, selected pipelines
// moved into a group, the list filtered by group (and to the ungrouped ones), and Run group
// starting the group's pipelines as one batch whose runs complete — each checked against the API.

import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { flatten } from "../web/src/group-paths.js";
import { tempDir } from "./helpers/app.js";
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, newPage, signIn } from "./helpers/browser.js";
import {
  type Client,
  client,
  createPipelineVia,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
} from "./helpers/server.js";

interface Group {
  id: string;
  name: string;
  parent_id: string;
  path_id: string;
  pipeline_count: number;
  no_group_count: number;
  children: Group[];
}

describe("group paths (pure)", () => {
  it("flattens the tree parents first, with paths of names and levels", () => {
    const g = (id: string, name: string, children: Group[] = []): Group => ({
      id,
      name,
      parent_id: "",
      path_id: id,
      pipeline_count: 0,
      no_group_count: 0,
      children,
    });
    const flat = flatten([g("a", "backend", [g("b", "api", [g("c", "v1")])]), g("d", "web")]);
    expect(flat.map((f) => [f.path, f.depth])).toEqual([
      ["backend", 0],
      ["backend / api", 1],
      ["backend / api / v1", 2],
      ["web", 0],
    ]);
  });
});

describe.skipIf(!hasChromium)("pipeline groups in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let api: Client;
  let token: string;
  let pid: string;
  const ids: Record<string, string> = {};
  const pageErrors: string[] = [];

  const tree = async (): Promise<Group[]> => (await api.get(`/v5/${pid}/api/pipeline-group/tree`)).body;
  const all = async (): Promise<Group[]> => {
    const walk = (gs: Group[]): Group[] => gs.flatMap((g) => [g, ...walk(g.children)]);
    return walk(await tree());
  };
  const groupOf = async (name: string): Promise<string | null> =>
    (await api.get(`/v5/${pid}/api/pipelines/${ids[name]}`)).body.group_id;
  const rows = (p: Page) =>
    p.evaluate(
      "[...document.querySelectorAll('[data-testid=pipelines-table] tbody tr')].map((r) => r.dataset.testid.slice(4)).sort()",
    );
  const waitRows = async (want: string[]) => {
    await expect.poll(() => rows(page), { timeout: 15_000 }).toEqual([...want].sort());
  };

  beforeAll(async () => {
    server = await startServerProcess();
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const project = await admin.post("/admin/v1/projects", {
      name: `groups-${Math.random().toString(36).slice(2, 7)}`,
    });
    pid = project.body.project_id;
    const t = await admin.post("/admin/v1/tokens", { name: "ui-admin", role: "admin", project_ids: [pid] });
    token = t.body.token;
    api = client(server.url, token);
    for (const name of ["build", "deploy", "docs"])
      ids[name] = await createPipelineVia(api, pid, { name, definition: shellPipeline(`echo ${name}`) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await newPage(context, pageErrors);
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

  it("creates, nests, renames and refuses in Manage groups", { timeout: 60_000 }, async () => {
    await signIn(page, server.url, token);
    await page.getByTestId("manage-groups").click();
    const dialog = page.getByTestId("groups-dialog");
    await dialog.getByTestId("no-groups").waitFor();
    await dialog.getByTestId("new-group-name").fill("backend");
    await dialog.getByTestId("new-group-create").click();
    await dialog.getByTestId("group-row-backend").waitFor();
    await dialog.getByTestId("new-group-name").fill("api");
    await dialog.getByTestId("new-group-parent").selectOption({ label: "backend (0)" });
    await dialog.getByTestId("new-group-create").click();
    await dialog.getByTestId("group-row-api").waitFor();
    const backend = (await all()).find((g) => g.name === "backend")!;
    expect(backend.children.map((g) => g.name)).toEqual(["api"]);
    // A sibling's name is refused in the dialog, and what was typed stays.
    await dialog.getByTestId("new-group-name").fill("backend");
    await dialog.getByTestId("new-group-parent").selectOption("");
    await dialog.getByTestId("new-group-create").click();
    await expect.poll(() => dialog.getByTestId("group-error").textContent()).toContain("backend");
    expect(await dialog.getByTestId("new-group-name").inputValue()).toBe("backend");
    await dialog.getByTestId("new-group-name").fill("web");
    await dialog.getByTestId("new-group-create").click();
    await dialog.getByTestId("group-row-web").waitFor();
    await dialog.getByTestId("group-name-web").fill("frontend");
    await dialog.getByTestId("group-rename-web").click();
    await dialog.getByTestId("group-row-frontend").waitFor();
    expect((await tree()).map((g) => g.name)).toEqual(["backend", "frontend"]);
    await dialog.getByTestId("groups-close").click();
  });

  it("moves selected pipelines into a group, filters the list by group, and Run group runs them all", {
    timeout: 90_000,
  }, async () => {
    const api_ = (await all()).find((g) => g.name === "api")!;
    const backend = (await all()).find((g) => g.name === "backend")!;
    await expect
      .poll(async () => (await page.getByTestId("move-target").textContent()) ?? "")
      .toContain("api");
    await page.getByTestId("select-build").check();
    await page.getByTestId("select-deploy").check();
    await page.getByTestId("move-target").selectOption(api_.id);
    await page.getByTestId("move-selected").click();
    await expect.poll(() => groupOf("build")).toBe(api_.id);
    expect(await groupOf("deploy")).toBe(api_.id);
    expect(await groupOf("docs")).toBeNull();

    await page.getByTestId("group-filter").selectOption(backend.id);
    await waitRows(["build", "deploy"]);
    await page.getByTestId("group-filter").selectOption("-");
    await waitRows(["docs"]);
    await page.getByTestId("group-filter").selectOption(backend.id);
    await waitRows(["build", "deploy"]);
    await page.getByTestId("run-group").click();
    await page.getByTestId("batch-result").waitFor();
    for (const name of ["build", "deploy"]) {
      await expect
        .poll(
          async () => {
            const runs = await api.post(`/v5/${pid}/api/pipelines/${ids[name]}/pipeline-runs/list`, {});
            return runs.body.pipeline_runs[0]?.status;
          },
          { timeout: 30_000 },
        )
        .toBe("COMPLETED");
    }
    expect((await api.post(`/v5/${pid}/api/pipelines/${ids.docs}/pipeline-runs/list`, {})).body.total).toBe(
      0,
    );
  });

  it("deletes a group with its subgroups; its pipelines become ungrouped", { timeout: 60_000 }, async () => {
    await page.getByTestId("group-filter").selectOption("");
    await page.getByTestId("manage-groups").click();
    const dialog = page.getByTestId("groups-dialog");
    await dialog.getByTestId("group-delete-backend").click();
    await page.getByTestId("confirm").click();
    await expect.poll(async () => (await all()).map((g) => g.name)).toEqual(["frontend"]);
    expect(await groupOf("build")).toBeNull();
    await dialog.getByTestId("groups-close").click();
    expect(pageErrors).toEqual([]);
  });
});
