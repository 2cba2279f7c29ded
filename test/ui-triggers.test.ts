// Triggers and schedules in the web UI, in Debian's headless Chromium against the real
// `pipewright serve`: forms that add, edit, switch and remove them (checked against the API),
// the server's refusal shown at the field, the webhook on demand, and runs that say what
// started them.

import crypto from "node:crypto";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page, type Request } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  hasChromium,
  LONG,
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
  waitFor,
  waitForRun,
} from "./helpers/server.js";

// On loopback, at a port nobody listens on: the server's polls of it fail at once, going nowhere.
const REPO = "http://127.0.0.1:9/acme/app.git";
/** What the detail adds to a polled trigger (where its polling stands), never sent back. */
const TRIGGER_VIEW = ["last_poll_time", "next_poll_time", "poll_error"];
const withoutView = (t: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(t).filter(([k]) => !TRIGGER_VIEW.includes(k)));
const COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

describe.skipIf(!hasChromium)(
  "triggers and schedules in Chromium (skipped: Debian chromium not installed)",
  () => {
    let server: ServerProcess;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let api: Client;
    let admin: Client;
    let token: string;
    let pid: string;
    let pipelineId: string;
    const pageErrors: string[] = [];
    const newPage = (ctx: BrowserContext): Promise<Page> => openPage(ctx, pageErrors);
    const signIn = (p: Page, token: string): Promise<void> => signInWith(p, server.url, token);

    const detailPath = () => `/v5/${pid}/api/pipelines/${pipelineId}`;
    const detail = async () => {
      const res = await api.get(detailPath());
      expect(res.status).toBe(200);
      return res.body;
    };
    const pipelinePage = () => `${server.url}/#/p/${pid}/pipelines/${pipelineId}`;

    /** The body of the next PUT the page sends (the update of the pipeline). */
    function nextPut(p: Page): Promise<Request> {
      return p.waitForRequest((r) => r.method() === "PUT" && r.url().endsWith(detailPath()));
    }

    /** Inputs, selects and text areas inside the locator's element that have no accessible name. */
    async function unlabelled(selector: string): Promise<string[]> {
      return (await page.evaluate(
        `[...document.querySelectorAll(${JSON.stringify(`${selector} input, ${selector} select, ${selector} textarea`)})]` +
          `.filter((el) => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))` +
          `.map((el) => el.outerHTML)`,
      )) as string[];
    }

    /** Where the keyboard focus is: the test ids of its row (or dialog) and of the element. */
    function focused(): Promise<unknown> {
      return page.evaluate(
        "(() => { const a = document.activeElement; const box = a?.closest('li[data-testid], dialog');" +
          " return `${box?.dataset.testid}/${a?.dataset.testid}`; })()",
      );
    }

    beforeAll(async () => {
      server = await startServerProcess();
      admin = client(server.url, E2E_ADMIN_TOKEN);
      const project = await admin.post("/admin/v1/projects", {
        name: `hooks-${Math.random().toString(36).slice(2, 7)}`,
      });
      pid = project.body.project_id;
      const t = await admin.post("/admin/v1/tokens", { name: "ui-admin", role: "admin", project_ids: [pid] });
      token = t.body.token;
      api = client(server.url, token);
      pipelineId = await createPipelineVia(api, pid, {
        name: "app",
        description: "kept as it is",
        variables: [{ name: "API_KEY", value: "s3cret-value", is_secret: true }],
        definition: shellPipeline("echo built"),
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
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

    it("adds a cron schedule and a trigger through the forms; the API has them and the page shows the next tick", async () => {
      await signIn(page, token);
      await page.goto(pipelinePage());
      const panel = page.getByTestId("triggers-panel");
      await panel.getByTestId("no-schedules").waitFor();
      await panel.getByTestId("no-triggers").waitFor();

      await page.getByRole("button", { name: "Add schedule" }).click();
      const dialog = page.getByTestId("schedule-dialog");
      await dialog.waitFor();
      expect(await unlabelled("[data-testid=schedule-dialog]")).toEqual([]);
      await dialog.getByRole("radio", { name: "Cron" }).check();
      // Fields of other kinds of schedule are out of the way.
      expect(await dialog.getByRole("group", { name: "Days" }).isHidden()).toBe(true);
      await dialog.getByRole("textbox", { name: "Name (optional)" }).fill("quarter-hourly");
      await dialog.getByRole("textbox", { name: "Cron expression" }).fill("*/15 * * * *");
      await dialog.getByRole("combobox", { name: "Time zone" }).fill("Asia/Singapore");
      const put = nextPut(page);
      await dialog.getByRole("button", { name: "Add schedule" }).click();
      const sent = (await put).postDataJSON();
      await dialog.waitFor({ state: "detached" });

      const d = await detail();
      expect(d.schedules).toHaveLength(1);
      const s = d.schedules[0];
      expect(s).toMatchObject({
        type: "cron",
        name: "quarter-hourly",
        cron: "*/15 * * * *",
        time_zone: "Asia/Singapore",
        enable: true,
      });
      expect(s.uuid).toMatch(/\S/);
      const now = Date.now();
      expect(s.next_time).toBeGreaterThan(now - 60_000);
      expect(s.next_time).toBeLessThanOrEqual(now + 15 * 60_000 + 60_000);
      // The rest of the pipeline is sent as it was, its secret masked (the server keeps it).
      expect(sent).toMatchObject({ name: "app", description: "kept as it is", triggers: [] });
      expect(sent.variables[0].value).toBe("******");
      expect(d.description).toBe("kept as it is");

      const row = panel.getByTestId("schedule-0");
      expect(await row.getByTestId("schedule-text").textContent()).toBe("cron */15 * * * * Asia/Singapore");
      // The next tick, in the browser's time, with how far off it is.
      const next = row.getByTestId("schedule-next").locator("time");
      await expect.poll(() => next.getAttribute("datetime")).toBe(new Date(s.next_time).toISOString());
      expect(await row.getByTestId("schedule-next").textContent()).toMatch(/\(in (a moment|\d+ (s|min))\)/);

      await page.getByRole("button", { name: "Add trigger" }).click();
      const tdialog = page.getByTestId("trigger-dialog");
      await tdialog.waitFor();
      expect(await unlabelled("[data-testid=trigger-dialog]")).toEqual([]);
      await tdialog.getByRole("textbox", { name: "Repository" }).fill(REPO);
      await tdialog.getByRole("combobox", { name: "Forge" }).selectOption("gitlab");
      await tdialog.getByRole("checkbox", { name: "Merge request" }).check();
      await tdialog.getByRole("checkbox", { name: "Tag push" }).uncheck();
      await tdialog.getByRole("textbox", { name: "Branches" }).fill("main, release/*");
      await tdialog.getByRole("textbox", { name: "Paths" }).fill("src/**, {package,tsconfig}.json");
      await tdialog.getByRole("spinbutton", { name: /Poll interval/ }).fill("300");
      const tput = nextPut(page);
      await tdialog.getByRole("button", { name: "Add trigger" }).click();
      const tsent = (await tput).postDataJSON();
      await tdialog.waitFor({ state: "detached" });
      // The schedule went back with its uuid and without what the detail adds to it.
      expect(tsent.schedules).toHaveLength(1);
      expect(tsent.schedules[0].uuid).toBe(s.uuid);
      for (const k of ["next_time", "last_fire_time", "missed_count", "last_missed_time"])
        expect(tsent.schedules[0]).not.toHaveProperty(k);

      const d2 = await detail();
      expect(d2.triggers.map(withoutView)).toEqual([
        {
          git_url: REPO,
          git_type: "gitlab",
          events: [
            { type: "push", enable: true },
            { type: "tag_push", enable: false },
            { type: "merge_request", enable: true },
          ],
          branches: ["main", "release/*"],
          paths: ["src/**", "{package,tsconfig}.json"],
          poll_interval: 300,
        },
      ]);
      // Sending the schedule back left it where it stood in time.
      expect(d2.schedules[0].uuid).toBe(s.uuid);
      expect(d2.schedules[0].next_time).toBe(s.next_time);
      const trow = panel.getByTestId("trigger-0");
      expect(await trow.getByTestId("trigger-repo").textContent()).toBe(REPO);
      expect(await trow.getByTestId("trigger-filters").textContent()).toContain("Branches: main, release/*");
      expect(await trow.getByTestId("trigger-poll").textContent()).toBe("Polls every 300 s");
      expect(await trow.getByRole("checkbox", { name: "Tag push" }).isChecked()).toBe(false);
      expect(await trow.getByRole("checkbox", { name: "Push", exact: true }).isChecked()).toBe(true);

      // The server polls the repository; its failure is shown with the trigger.
      const polled = await waitFor(
        async () => (await detail()).triggers[0].poll_error as string | null,
        LONG,
        "the first poll to fail",
      );
      await page.reload();
      expect(await trow.getByTestId("trigger-poll-error").textContent()).toBe(
        `The last poll failed: ${polled}`,
      );
      expect(await trow.getByTestId("trigger-filters").textContent()).toMatch(/Last poll: .+(ago|just now)/);
    }, 120_000);

    it("switches a schedule and an event off and on, and edits a trigger keeping what it did not show", async () => {
      const row = page.getByTestId("schedule-0");
      await row.getByRole("checkbox", { name: "Enabled" }).uncheck();
      await page.locator('[data-testid="schedule-0"][data-enabled="false"]').waitFor();
      expect((await detail()).schedules[0].enable).toBe(false);
      expect(await row.getByTestId("schedule-next").textContent()).toContain("disabled");
      // The focus stays on the switch after the list is drawn again.
      await expect.poll(focused).toBe("schedule-0/schedule-toggle");
      await row.getByRole("checkbox", { name: "Enabled" }).check();
      await page.locator('[data-testid="schedule-0"][data-enabled="true"]').waitFor();
      await row.getByTestId("schedule-next").locator("time").waitFor();
      expect((await detail()).schedules[0].enable).toBe(true);

      const trow = page.getByTestId("trigger-0");
      const put = nextPut(page);
      await trow.getByRole("checkbox", { name: "Tag push" }).check();
      // The trigger goes back without the polling state the detail showed with it.
      const sentTrigger = (await put).postDataJSON().triggers[0];
      for (const k of TRIGGER_VIEW) expect(sentTrigger).not.toHaveProperty(k);
      expect(sentTrigger.poll_interval).toBe(300);
      await waitFor(
        async () =>
          (await detail()).triggers[0].events.find((e: { type: string }) => e.type === "tag_push").enable,
        LONG,
        "tag push to be enabled",
      );

      // A field this UI does not know is kept when the trigger is edited.
      const d = await detail();
      const apiPut = await api.put(detailPath(), {
        name: d.name,
        is_publish: d.is_publish,
        definition: d.definition,
        description: d.description,
        variables: d.variables,
        schedules: d.schedules,
        triggers: [{ ...withoutView(d.triggers[0]), custom_note: "from the API" }],
      });
      expect(apiPut.status, JSON.stringify(apiPut.body)).toBe(200);
      await page.reload();
      await trow.getByRole("button", { name: /^Edit trigger 1/ }).click();
      const tdialog = page.getByTestId("trigger-dialog");
      expect(await tdialog.getByRole("spinbutton", { name: /Poll interval/ }).inputValue()).toBe("300");
      await tdialog.getByRole("textbox", { name: "Tags" }).fill("v*");
      await tdialog.getByRole("spinbutton", { name: /Poll interval/ }).fill("");
      await tdialog.getByRole("button", { name: "Save trigger" }).click();
      await tdialog.waitFor({ state: "detached" });
      const t = (await detail()).triggers[0];
      expect(t).toMatchObject({ git_url: REPO, tags: ["v*"], custom_note: "from the API" });
      expect(t).not.toHaveProperty("poll_interval");
      expect(await trow.getByTestId("trigger-poll").count()).toBe(0);
    }, 120_000);

    it("shows the server's refusal beside the form and at the field it names, keeping what was typed", async () => {
      await page.getByRole("button", { name: "Add schedule" }).click();
      const dialog = page.getByTestId("schedule-dialog");
      await dialog.waitFor();
      await dialog.getByRole("textbox", { name: "Name (optional)" }).fill("nightly");
      await dialog.getByRole("checkbox", { name: "Saturday" }).check();
      await dialog.getByLabel("At", { exact: true }).fill("03:30");
      const zone = dialog.getByRole("combobox", { name: "Time zone" });
      await zone.fill("Mars/Olympus_Mons");
      await dialog.getByRole("button", { name: "Add schedule" }).click();

      const error = dialog.getByTestId("form-error");
      await error.waitFor();
      expect(await error.getByTestId("form-error-message").textContent()).toMatch(
        /^schedules\[1\]\.time_zone: unknown time zone "Mars\/Olympus_Mons"/,
      );
      expect(await error.textContent()).toContain("DEVPIPE.");
      expect(await zone.getAttribute("aria-invalid")).toBe("true");
      expect(await dialog.locator("#sched-zone-error").textContent()).toContain("unknown time zone");
      // The field the server named has the focus, and nothing typed was lost.
      await expect.poll(focused).toBe("schedule-dialog/schedule-zone");
      expect(await zone.inputValue()).toBe("Mars/Olympus_Mons");
      expect(await dialog.getByRole("textbox", { name: "Name (optional)" }).inputValue()).toBe("nightly");
      expect(await dialog.getByLabel("At", { exact: true }).inputValue()).toBe("03:30");
      expect(await dialog.getByRole("checkbox", { name: "Saturday" }).isChecked()).toBe(true);
      expect((await detail()).schedules).toHaveLength(1);

      // Fixed, it is saved and read as a sentence.
      await zone.fill("China Standard Time");
      await dialog.getByRole("button", { name: "Add schedule" }).click();
      await dialog.waitFor({ state: "detached" });
      const d = await detail();
      expect(d.schedules).toHaveLength(2);
      expect(d.schedules[1]).toMatchObject({
        type: "fixed",
        name: "nightly",
        days_of_week: [2, 3, 4, 5, 6, 7],
        start_time: "03:30",
        time_zone: "China Standard Time",
      });
      expect(await page.getByTestId("schedule-1").getByTestId("schedule-text").textContent()).toBe(
        "Mon–Sat 03:30 China Standard Time",
      );

      // A local check names its field too, and sends nothing.
      await page.getByRole("button", { name: "Add trigger" }).click();
      const tdialog = page.getByTestId("trigger-dialog");
      await tdialog.getByRole("button", { name: "Add trigger" }).click();
      await tdialog.getByTestId("form-error").getByText("Nothing was sent.").waitFor();
      expect(await tdialog.getByRole("textbox", { name: "Repository" }).getAttribute("aria-invalid")).toBe(
        "true",
      );
      await tdialog.getByRole("button", { name: "Cancel" }).click();
      await tdialog.waitFor({ state: "detached" });

      // Removed after confirmation.
      await page.getByTestId("schedule-1").getByRole("button", { name: "Remove schedule “nightly”" }).click();
      await page.getByTestId("confirm").click();
      await page.getByTestId("schedule-1").waitFor({ state: "detached" });
      const after = await detail();
      expect(after.schedules.map((x: { name: string }) => x.name)).toEqual(["quarter-hourly"]);
      expect(after.triggers).toHaveLength(1);
    }, 120_000);

    it("shows the webhook on demand with its secret hidden until asked; a viewer is offered no change", async () => {
      const hook = await api.get(`${detailPath()}/webhook`);
      expect(hook.status).toBe(200);
      await page.getByRole("button", { name: "Show webhook URL and secret" }).click();
      const url = page.getByRole("textbox", { name: "Callback URL" });
      expect(await url.inputValue()).toBe(hook.body.callback_url);
      expect(hook.body.callback_url).toMatch(new RegExp(`/hooks/v1/${pid}$`));
      const secret = page.getByTestId("webhook-secret");
      expect(await secret.getAttribute("type")).toBe("password");
      await page.getByRole("button", { name: "Show secret" }).click();
      expect(await secret.getAttribute("type")).toBe("text");
      expect(await secret.inputValue()).toBe(hook.body.security_token);
      expect(await page.getByRole("button", { name: "Show secret" }).getAttribute("aria-pressed")).toBe(
        "true",
      );

      const v = await admin.post("/admin/v1/tokens", {
        name: "ui-viewer",
        role: "viewer",
        project_ids: [pid],
      });
      const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      try {
        const vp = await newPage(viewerContext);
        await signIn(vp, v.body.token);
        await vp.goto(pipelinePage());
        await vp.getByTestId("schedule-0").waitFor();
        // Offered nothing it may not do (check-rights: no update): no add, edit or remove, the
        // switch shown but not usable, and the webhook's secret not offered, with the reason.
        await vp.getByTestId("webhook-viewer").waitFor();
        expect(await vp.getByTestId("webhook-viewer").textContent()).toContain(
          "right to change this pipeline",
        );
        for (const id of [
          "webhook-show",
          "add-schedule",
          "add-trigger",
          "schedule-edit",
          "schedule-remove",
          "trigger-edit",
          "trigger-remove",
        ]) {
          expect(await vp.getByTestId(id).filter({ visible: true }).count(), id).toBe(0);
        }
        expect(await vp.getByTestId("webhook-secret").count()).toBe(0);
        expect(
          await vp.getByTestId("schedule-0").getByRole("checkbox", { name: "Enabled" }).isDisabled(),
        ).toBe(true);
        // The admin's page still offers them.
        expect(await page.getByTestId("add-schedule").isVisible()).toBe(true);
        expect(await page.getByTestId("schedule-edit").first().isVisible()).toBe(true);
        expect((await detail()).schedules[0].enable).toBe(true);
      } finally {
        await viewerContext.close();
      }
    }, 120_000);

    it("reads a periodic schedule sent over the API as a sentence", async () => {
      const d = await detail();
      const res = await api.put(detailPath(), {
        name: d.name,
        is_publish: d.is_publish,
        definition: d.definition,
        description: d.description,
        variables: d.variables,
        triggers: d.triggers,
        schedules: [
          ...d.schedules,
          {
            type: "periodic",
            days_of_week: [2, 3, 4, 5, 6],
            start_time: "09:00",
            end_time: "18:00",
            interval_time: "3600",
            interval_unit: "s",
            time_zone: "GMT Standard Time",
            enable: "false",
          },
        ],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      await page.reload();
      const row = page.getByTestId("schedule-1");
      expect(await row.getByTestId("schedule-text").textContent()).toBe(
        "Mon–Fri every 3600 s 09:00–18:00 GMT Standard Time",
      );
      // CodeArts's "false" is off.
      expect(await row.getAttribute("data-enabled")).toBe("false");
      expect(await row.getByRole("checkbox", { name: "Enabled" }).isChecked()).toBe(false);
      await row.getByRole("button", { name: "Edit schedule 2" }).click();
      const dialog = page.getByTestId("schedule-dialog");
      expect(await dialog.getByRole("radio", { name: "Every interval" }).isChecked()).toBe(true);
      expect(await dialog.getByRole("spinbutton", { name: "Every" }).inputValue()).toBe("3600");
      expect(await dialog.getByLabel("Until").inputValue()).toBe("18:00");
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await row.getByRole("button", { name: "Remove schedule 2" }).click();
      await page.getByTestId("confirm").click();
      await row.waitFor({ state: "detached" });
      expect((await detail()).schedules).toHaveLength(1);
    }, 120_000);

    it("saves from the editor without touching the schedules and triggers, nor sending their view", async () => {
      const before = await detail();
      await page.goto(`${server.url}/#/p/${pid}/pipelines/${pipelineId}/edit`);
      const editor = page.getByTestId("editor-text");
      await expect.poll(async () => (await editor.inputValue()).includes("quarter-hourly")).toBe(true);
      const put = nextPut(page);
      await page.getByTestId("editor-save").click();
      const sent = (await put).postDataJSON();
      await page.getByRole("heading", { level: 1, name: "app" }).waitFor();
      for (const k of ["next_time", "last_fire_time", "missed_count", "last_missed_time"])
        expect(sent.schedules[0]).not.toHaveProperty(k);
      for (const k of TRIGGER_VIEW) expect(sent.triggers[0]).not.toHaveProperty(k);
      const after = await detail();
      expect(after.schedules).toEqual(before.schedules);
      expect(after.triggers.map(withoutView)).toEqual(before.triggers.map(withoutView));
    }, 120_000);

    it("says what started each run: a generic push delivery, and a manual run", async () => {
      const hook = await api.get(`${detailPath()}/webhook`);
      const body = JSON.stringify({
        event: "push",
        repository: REPO,
        ref: "refs/heads/main",
        commit: COMMIT,
        message: "fix login\n\nThe form lost its token.",
        author: "alice",
        delivery_id: "d1",
      });
      const sig = crypto.createHmac("sha256", hook.body.security_token).update(body).digest("hex");
      const res = await fetch(`${server.url}/hooks/v1/${pid}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-pipewright-signature": `sha256=${sig}` },
        body,
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const runs = await api.post(`${detailPath()}/pipeline-runs/list`, { limit: 10, offset: 0 });
      expect(runs.body.total).toBe(1);
      const hookRun = runs.body.pipeline_runs[0].pipeline_run_id as string;
      await waitForRun(api, pid, pipelineId, hookRun);
      const manual = (await api.post(`${detailPath()}/run`, {})).body.pipeline_run_id as string;
      await waitForRun(api, pid, pipelineId, manual);

      await page.goto(pipelinePage());
      const pushCell = page.getByTestId("run-row-1").getByTestId("run-trigger");
      await pushCell.getByText("Push").waitFor();
      expect(await pushCell.textContent()).toBe("Push · main · a1b2c3d");
      expect(await pushCell.getByTestId("commit").getAttribute("title")).toBe(COMMIT);
      expect(await page.getByTestId("run-row-2").getByTestId("run-trigger").textContent()).toBe(
        "Manual · ui-admin",
      );

      await page.getByTestId("run-row-1").getByRole("link", { name: "#1" }).click();
      const origin = page.getByTestId("run-trigger");
      await origin.getByText("Push to main").waitFor();
      expect(await origin.textContent()).toBe("Push to main · a1b2c3d fix login by alice");
      expect(await origin.locator("q").getAttribute("title")).toContain("The form lost its token.");

      await page.goto(`${server.url}/#/p/${pid}/pipelines/${pipelineId}/runs/${manual}`);
      await page.getByTestId("run-trigger").getByText("Manual by ui-admin").waitFor();
    }, 120_000);

    it("fits a phone: the panel, the forms and the run view stay within 390 px", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      try {
        await page.goto(pipelinePage());
        await page.getByTestId("trigger-0").waitFor();
        await page.getByTestId("schedule-0").getByTestId("schedule-next").locator("time").waitFor();
        expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
        expect(await unlabelled("[data-testid=triggers-panel]")).toEqual([]);

        await page
          .getByTestId("trigger-0")
          .getByRole("button", { name: /^Edit trigger/ })
          .click();
        const tdialog = page.getByTestId("trigger-dialog");
        await tdialog.waitFor();
        expect(
          await page.evaluate(
            "(() => { const d = document.querySelector('[data-testid=trigger-dialog]'); return d.scrollWidth <= d.clientWidth; })()",
          ),
        ).toBe(true);
        await page.keyboard.press("Escape");
        await tdialog.waitFor({ state: "detached" });

        await page.getByRole("button", { name: "Add schedule" }).click();
        const sdialog = page.getByTestId("schedule-dialog");
        await sdialog.getByRole("radio", { name: "Every interval" }).check();
        expect(
          await page.evaluate(
            "(() => { const d = document.querySelector('[data-testid=schedule-dialog]'); return d.scrollWidth <= d.clientWidth; })()",
          ),
        ).toBe(true);
        await sdialog.getByRole("button", { name: "Cancel" }).click();

        await page.getByTestId("run-row-1").getByRole("link", { name: "#1" }).click();
        await page.getByTestId("run-trigger").getByText("Push to main").waitFor();
        expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
      }
      expect(pageErrors).toEqual([]);
    }, 120_000);
  },
);
