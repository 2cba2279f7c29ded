// Pipeline tags in the web UI, in Debian's headless Chromium against the real `pipewright serve`:
// tags created, renamed, recoloured and deleted in Manage tags, set on a pipeline from the list and
// from its page (each checked against the API), the list filtered by tag, chips that carry their
// name legibly, refusals shown beside the form with what was typed kept, and all of it within a
// phone's width. The pure helpers behind the chips are tested first, without a browser.

import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  chipColors,
  contrast,
  DEFAULT_TAG_COLOR,
  knownTagIds,
  luminance,
  tagsByPipeline,
} from "../web/src/tag-colors.js";
import { tempDir } from "./helpers/app.js";
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
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
} from "./helpers/server.js";

describe("tag colours (pure)", () => {
  it("writes a chip's name in whichever of black and white reads at 4.5:1 or better", () => {
    expect(chipColors("#FFFF00")).toEqual({ background: "#ffff00", ink: "#000000" });
    expect(chipColors("#1a1a6e")).toEqual({ background: "#1a1a6e", ink: "#ffffff" });
    for (let i = 0; i < 2000; i++) {
      const color = `#${Math.floor(Math.random() * 0x1000000)
        .toString(16)
        .padStart(6, "0")}`;
      const { ink } = chipColors(color);
      expect(contrast(color, ink), color).toBeGreaterThanOrEqual(4.5);
    }
    // Something that is not #rrggbb gets the default colour rather than an unreadable one.
    expect(chipColors("blue").background).toBe(DEFAULT_TAG_COLOR);
    expect(luminance("#ffffff")).toBeCloseTo(1);
    expect(luminance("#000000")).toBe(0);
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21);
  });

  it("inverts the per-tag listings and forgets filters of deleted tags", () => {
    const tags = [{ tag_id: "a" }, { tag_id: "b" }];
    const by = tagsByPipeline(
      tags,
      new Map([
        ["b", ["p1"]],
        ["a", ["p1", "p2"]],
      ]),
    );
    expect(by.get("p1")).toEqual(tags);
    expect(by.get("p2")).toEqual([tags[0]]);
    expect(knownTagIds(["b", "gone", "a"], tags)).toEqual(["a", "b"]);
  });
});

describe.skipIf(!hasChromium)("pipeline tags in Chromium (skipped: Debian chromium not installed)", () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let api: Client;
  let admin: Client;
  let token: string;
  let pid: string;
  const ids: Record<string, string> = {};
  const pageErrors: string[] = [];
  const newPage = (ctx: BrowserContext): Promise<Page> => openPage(ctx, pageErrors);
  const signIn = (p: Page, token: string): Promise<void> => signInWith(p, server.url, token);

  const listPage = () => `${server.url}/#/p/${pid}`;

  async function tags(): Promise<{ tag_id: string; name: string; color: string }[]> {
    const res = await api.get(`/v5/${pid}/api/pipeline-tag/list`);
    expect(res.status).toBe(200);
    return res.body;
  }
  /** Names of the pipelines carrying the tag, as the API lists them. */
  async function carrying(tagName: string): Promise<string[]> {
    const tag = (await tags()).find((t) => t.name === tagName);
    if (!tag) throw new Error(`no tag ${tagName}`);
    const res = await api.post(`/v5/${pid}/api/pipelines/list`, { tag_ids: [tag.tag_id], limit: 100 });
    return res.body.pipelines.map((p: { name: string }) => p.name).sort();
  }

  /** Buttons and inputs inside the selector's element with no accessible name. */
  async function unnamed(p: Page, selector: string): Promise<string[]> {
    return (await p.evaluate(
      `[...document.querySelectorAll(${JSON.stringify(`${selector} button, ${selector} input, ${selector} select`)})]` +
        `.filter((el) => !(el.labels?.length) && !el.getAttribute("aria-label") && !el.textContent.trim())` +
        `.map((el) => el.outerHTML)`,
    )) as string[];
  }

  /** The chips' names in a row (or any element) of the page. */
  const chips = (p: Page, testid: string) => p.getByTestId(testid).getByTestId("tag-chip").allTextContents();
  /** The names of the pipelines the list shows. */
  const rows = (p: Page) =>
    p.evaluate(
      "[...document.querySelectorAll('[data-testid=pipelines-table] tbody tr')].map((r) => r.dataset.testid.slice(4))",
    );

  beforeAll(async () => {
    server = await startServerProcess();
    admin = client(server.url, E2E_ADMIN_TOKEN);
    const project = await admin.post("/admin/v1/projects", {
      name: `tags-${Math.random().toString(36).slice(2, 7)}`,
    });
    pid = project.body.project_id;
    const t = await admin.post("/admin/v1/tokens", { name: "ui-admin", role: "admin", project_ids: [pid] });
    token = t.body.token;
    api = client(server.url, token);
    for (const name of ["build", "deploy", "docs"])
      ids[name] = await createPipelineVia(api, pid, { name, definition: shellPipeline("true") });
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

  it("creates tags in Manage tags; a taken name is refused beside the form, keeping what was typed", async () => {
    await signIn(page, token);
    // No tags: no tag filter.
    expect(await page.getByTestId("tag-filter").isHidden()).toBe(true);
    await page.getByRole("button", { name: "Manage tags" }).click();
    const dialog = page.getByTestId("tags-dialog");
    await dialog.getByTestId("no-tags").waitFor();
    const name = dialog.getByRole("textbox", { name: "Name", exact: true });
    const colour = dialog.getByLabel("Colour", { exact: true });
    expect(await colour.inputValue()).toBe(DEFAULT_TAG_COLOR);
    await name.fill("release");
    await dialog.getByRole("button", { name: "Create tag" }).click();
    await dialog.getByTestId("tag-row-release").waitFor();
    await name.fill("nightly");
    await colour.fill("#7a3ee0");
    await dialog.getByRole("button", { name: "Create tag" }).click();
    await dialog.getByTestId("tag-row-nightly").waitFor();
    expect((await tags()).map((t) => [t.name, t.color])).toEqual([
      ["nightly", "#7a3ee0"],
      ["release", DEFAULT_TAG_COLOR],
    ]);
    expect(await unnamed(page, "[data-testid=tags-dialog]")).toEqual([]);

    await name.fill("release");
    await colour.fill("#123456");
    await dialog.getByRole("button", { name: "Create tag" }).click();
    const error = dialog.getByTestId("new-tag-error");
    await error.waitFor();
    expect(await error.getByTestId("new-tag-error-message").textContent()).toBe(
      'The project has a tag named "release".',
    );
    expect(await error.textContent()).toContain("The server refused it (DEVPIPE.00020124)");
    expect(await name.getAttribute("aria-invalid")).toBe("true");
    expect(await name.getAttribute("aria-describedby")).toBe("new-tag-error");
    expect(await name.inputValue()).toBe("release");
    expect(await colour.inputValue()).toBe("#123456");
    expect(await tags()).toHaveLength(2);

    // Renamed and recoloured in its own row.
    const row = dialog.getByTestId("tag-row-nightly");
    await row.getByRole("textbox", { name: "Name of tag nightly" }).fill("nightly-builds");
    await row.getByLabel("Colour of tag nightly").fill("#1a7f37");
    await row.getByRole("button", { name: "Save" }).click();
    await dialog.getByTestId("tag-row-nightly-builds").waitFor();
    expect((await tags()).find((t) => t.name === "nightly-builds")?.color).toBe("#1a7f37");
    // A rename to a taken name is refused in that row, which keeps what was typed.
    const renamed = dialog.getByTestId("tag-row-release");
    await renamed.getByRole("textbox", { name: "Name of tag release" }).fill("nightly-builds");
    await renamed.getByRole("button", { name: "Save" }).click();
    await renamed.getByTestId("tag-error").getByText("DEVPIPE.00020124", { exact: false }).waitFor();
    expect(await renamed.getByRole("textbox", { name: "Name of tag release" }).inputValue()).toBe(
      "nightly-builds",
    );
    expect((await tags()).map((t) => t.name)).toEqual(["nightly-builds", "release"]);

    await dialog.getByRole("button", { name: "Done" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByTestId("tag-filter-release").waitFor();
  }, 120_000);

  it("sets a pipeline's tags from the list and from its page; the rows show them as legible chips", async () => {
    await page.getByRole("button", { name: "Tags of build…" }).click();
    const dialog = page.getByTestId("set-tags-dialog");
    await dialog.getByRole("checkbox", { name: "release" }).check();
    await dialog.getByRole("checkbox", { name: "nightly-builds" }).check();
    expect(await unnamed(page, "[data-testid=set-tags-dialog]")).toEqual([]);
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await carrying("release")).toEqual(["build"]);
    expect(await carrying("nightly-builds")).toEqual(["build"]);
    await expect.poll(() => chips(page, "row-build")).toEqual(["nightly-builds", "release"]);
    expect(await chips(page, "row-docs")).toEqual([]);

    // Each chip says its name in an ink that reads on its colour, and the list of them is named.
    const inks = (await page.evaluate(
      "[...document.querySelectorAll('[data-testid=row-build] [data-testid=tag-chip]')]" +
        ".map((c) => [getComputedStyle(c).color, getComputedStyle(c).backgroundColor])",
    )) as [string, string][];
    const hex = (rgb: string) =>
      `#${(rgb.match(/\d+/g) ?? [])
        .slice(0, 3)
        .map((n) => Number(n).toString(16).padStart(2, "0"))
        .join("")}`;
    expect(inks.map(([, bg]) => hex(bg))).toEqual(["#1a7f37", DEFAULT_TAG_COLOR]);
    for (const [ink, bg] of inks) expect(contrast(hex(ink), hex(bg))).toBeGreaterThanOrEqual(4.5);
    expect(await page.getByTestId("row-build").getByRole("list", { name: "Tags of build" }).count()).toBe(1);

    // From the pipeline's page: what it carries is ticked, and the page shows the chips.
    await page.goto(`${server.url}/#/p/${pid}/pipelines/${ids.deploy}`);
    await page.getByRole("heading", { level: 1, name: "deploy" }).waitFor();
    await page.getByRole("button", { name: "Tags of deploy…" }).click();
    await dialog.getByRole("checkbox", { name: "nightly-builds" }).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => chips(page, "history-tag-chips")).toEqual(["nightly-builds"]);
    expect(await carrying("nightly-builds")).toEqual(["build", "deploy"]);

    await page.goto(`${server.url}/#/p/${pid}/pipelines/${ids.build}`);
    await expect.poll(() => chips(page, "history-tag-chips")).toEqual(["nightly-builds", "release"]);
    await page.getByRole("button", { name: "Tags of build…" }).click();
    expect(await dialog.getByRole("checkbox", { name: "release" }).isChecked()).toBe(true);
    expect(await dialog.getByRole("checkbox", { name: "nightly-builds" }).isChecked()).toBe(true);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
  }, 120_000);

  it("filters the list by tag (any of the pressed ones) and back to all pipelines", async () => {
    await page.goto(listPage());
    await expect.poll(() => rows(page)).toEqual(["docs", "deploy", "build"]);
    const release = page.getByTestId("tag-filter-release");
    await release.click();
    await expect.poll(() => rows(page)).toEqual(["build"]);
    expect(await release.getAttribute("aria-pressed")).toBe("true");
    await page.getByRole("button", { name: "nightly-builds", exact: true }).click();
    await expect.poll(() => rows(page)).toEqual(["deploy", "build"]);
    // The focus stays on the toggle after the filter is drawn again.
    expect(await page.evaluate("document.activeElement?.dataset.testid")).toBe("tag-filter-nightly-builds");
    await release.click();
    await page.getByTestId("tag-filter-nightly-builds").click();
    await expect.poll(() => rows(page)).toEqual(["docs", "deploy", "build"]);
    await release.click();
    await page.getByTestId("tag-filter-clear").click();
    await expect.poll(() => rows(page)).toEqual(["docs", "deploy", "build"]);
    expect(await unnamed(page, "[data-testid=tag-filter]")).toEqual([]);
  }, 120_000);

  it("shows a viewer's refusals beside the forms, keeping what was typed, and offers no Tags…", async () => {
    const v = await admin.post("/admin/v1/tokens", { name: "ui-viewer", role: "viewer", project_ids: [pid] });
    const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const vp = await newPage(viewerContext);
      await signIn(vp, v.body.token);
      await expect.poll(() => chips(vp, "row-build")).toEqual(["nightly-builds", "release"]);
      await vp.getByRole("button", { name: "Manage tags" }).click();
      const dialog = vp.getByTestId("tags-dialog");
      await dialog.getByRole("textbox", { name: "Name", exact: true }).fill("mine");
      await dialog.getByRole("button", { name: "Create tag" }).click();
      await dialog
        .getByTestId("new-tag-error")
        .getByText("Role viewer may not change pipelines", { exact: false })
        .waitFor();
      expect(await dialog.getByRole("textbox", { name: "Name", exact: true }).inputValue()).toBe("mine");
      await dialog.getByRole("button", { name: "Done" }).click();

      // Setting a pipeline's tags needs the `tag` right (check-rights): a viewer is not offered it.
      await vp.getByTestId("row-docs").waitFor();
      expect(await vp.getByRole("button", { name: "Tags of docs…" }).count()).toBe(0);
    } finally {
      await viewerContext.close();
    }
    expect((await tags()).map((t) => t.name)).toEqual(["nightly-builds", "release"]);
    expect(await carrying("release")).toEqual(["build"]);
  }, 120_000);

  it("fits a phone: chips, the tag filter and both dialogs stay within 390 px", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(listPage());
      await expect.poll(() => chips(page, "row-build")).toEqual(["nightly-builds", "release"]);
      await page.getByTestId("tag-filter-release").waitFor();
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      const fits = (testid: string) =>
        page.evaluate(
          `(() => { const d = document.querySelector('[data-testid=${testid}]'); return d.scrollWidth <= d.clientWidth; })()`,
        );
      await page.getByRole("button", { name: "Manage tags" }).click();
      await page.getByTestId("tags-dialog").getByTestId("tag-row-release").waitFor();
      expect(await fits("tags-dialog")).toBe(true);
      await page.keyboard.press("Escape");
      await page.getByTestId("tags-dialog").waitFor({ state: "detached" });
      await page.getByRole("button", { name: "Tags of build…" }).click();
      await page.getByTestId("set-tags-dialog").getByRole("checkbox", { name: "release" }).waitFor();
      expect(await fits("set-tags-dialog")).toBe(true);
      await page.keyboard.press("Escape");
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  }, 120_000);

  it("deletes a tag after confirmation; the pipelines lose it and the page its chips", async () => {
    await page.goto(listPage());
    await page.getByRole("button", { name: "Manage tags" }).click();
    const dialog = page.getByTestId("tags-dialog");
    await dialog.getByRole("button", { name: "Delete tag release" }).click();
    await page.getByTestId("confirm").click();
    await dialog.getByTestId("tag-row-release").waitFor({ state: "detached" });
    await dialog.getByRole("button", { name: "Done" }).click();
    expect((await tags()).map((t) => t.name)).toEqual(["nightly-builds"]);
    await expect.poll(() => chips(page, "row-build")).toEqual(["nightly-builds"]);
    expect(await page.getByTestId("tag-filter-release").count()).toBe(0);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
