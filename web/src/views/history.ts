// A pipeline's page: its runs (status, what started them, number, duration), a chart of the last
// ones, its tags, its triggers and schedules, and Run / Tags… / Edit.

import { paths } from "../api.js";
import { runChart } from "../chart.js";
import { errorText, isNotFound, notFoundPage, routes, sleep, type View } from "../context.js";
import { fill, h, keepFocus, setText } from "../dom.js";
import { durationText, pill, timeEl } from "../format.js";
import { rightsOf } from "../rights.js";
import { runDialog } from "../run-dialog.js";
import { buildParamsOf, neverStarted, originBrief } from "../run-origin.js";
import { listTags, pipelineTagsDialog, tagChips, tagsOfPipelines } from "../tags.js";
import { createTriggersPanel } from "../triggers-panel.js";
import type { PipelineDetail, RunList } from "../types.js";
import { TERMINAL } from "../types.js";

const PAGE = 15;
const CHART_RUNS = 30;

export const historyView: View = (ctx, main, params) => {
  const projectId = ctx.projectId;
  const pipelineId = params.pipeline!;
  const life = new AbortController();
  let offset = 0;
  let total = 0;

  const heading = h("h1", { tabindex: "-1" }, "Pipeline");
  const banned = h("span", { class: "badge", hidden: true }, "Disabled");
  const runBtn = h("button", { type: "button", class: "btn primary", "data-testid": "history-run" }, "Run…");
  const tagsBtn = h(
    "button",
    { type: "button", class: "btn", "data-testid": "history-tags", disabled: true },
    "Tags…",
  );
  const tagsBox = h("div", { class: "history-tags", "data-testid": "history-tag-chips" });
  let pipelineName = "";
  const editLink = h(
    "a",
    { class: "btn", href: routes.edit(projectId, pipelineId), "data-testid": "history-edit" },
    "Edit",
  );
  const chartBox = h("div", { class: "card chart-card" }, h("h2", {}, "Recent runs"));
  const tbody = h("tbody", {});
  const range = h("span", { class: "muted" });
  const prev = h("button", { type: "button", class: "btn small" }, "Previous");
  const next = h("button", { type: "button", class: "btn small" }, "Next");
  const pager = h("nav", { class: "pager", "aria-label": "Pages of runs" }, range, prev, next);
  let lastKey = "";
  prev.addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE);
    void load();
  });
  next.addEventListener("click", () => {
    offset += PAGE;
    void load();
  });
  const panel = createTriggersPanel(ctx, pipelineId, (d) => showDetail(d));
  const empty = h(
    "p",
    { class: "empty muted", hidden: true },
    "No runs yet. Run the pipeline to see its history here.",
  );
  main.replaceChildren(
    h(
      "section",
      { class: "page history-view" },
      h(
        "header",
        { class: "page-head" },
        h(
          "div",
          {},
          h(
            "nav",
            { class: "crumbs", "aria-label": "Breadcrumb" },
            h("a", { href: routes.pipelines(projectId) }, "Pipelines"),
          ),
          h("div", { class: "title-row" }, heading, banned),
          tagsBox,
        ),
        h("div", { class: "actions" }, runBtn, tagsBtn, editLink),
      ),
      chartBox,
      h(
        "div",
        { class: "card table-card" },
        h(
          "table",
          { class: "table", "data-testid": "runs-table" },
          h("caption", { class: "visually-hidden" }, "Runs"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Run"),
              h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col", class: "opt" }, "Stages"),
              h("th", { scope: "col", class: "opt" }, "Trigger"),
              h("th", { scope: "col" }, "Started"),
              h("th", { scope: "col", class: "num" }, "Duration"),
            ),
          ),
          tbody,
        ),
        empty,
        pager,
      ),
      panel.el,
    ),
  );

  runBtn.addEventListener("click", async () => {
    const run = await runDialog(ctx, pipelineId);
    if (run) ctx.navigate(routes.run(projectId, pipelineId, run));
  });

  tagsBtn.addEventListener("click", async () => {
    if (await pipelineTagsDialog(ctx, { id: pipelineId, name: pipelineName })) await loadTags();
  });

  /** The tags it carries: the list filtered by each tag, narrowed to names like its own. */
  async function loadTags(): Promise<void> {
    try {
      const tags = await listTags(ctx);
      const carried = (await tagsOfPipelines(ctx, tags, pipelineName)).get(pipelineId);
      fill(tagsBox, tagChips(carried, `Tags of ${pipelineName}`));
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
  }

  function showDetail(d: PipelineDetail): void {
    const first = pipelineName === "";
    pipelineName = d.name;
    tagsBtn.disabled = false;
    tagsBtn.setAttribute("aria-label", `Tags of ${d.name}…`);
    if (first) void loadTags();
    setText(heading, d.name);
    document.title = `${d.name} · Pipewright`;
    banned.hidden = !d.banned;
  }

  async function load(): Promise<boolean> {
    const now = ctx.now();
    const [page, recent] = await Promise.all([
      ctx.api.post<RunList>(paths.runs(projectId, pipelineId), { offset, limit: PAGE }),
      ctx.api.post<RunList>(paths.runs(projectId, pipelineId), { offset: 0, limit: CHART_RUNS }),
    ]);
    total = page.total;
    const busy = recent.pipeline_runs.some((r) => !TERMINAL.has(r.status));
    // Unchanged and nothing running: leave the DOM (and the reader's place in it) alone.
    const key = JSON.stringify([page, recent]);
    if (key === lastKey && !busy) return busy;
    lastKey = key;
    chartBox.replaceChildren(h("h2", {}, "Recent runs"), runChart(recent.pipeline_runs, now));
    keepFocus(tbody, () =>
      tbody.replaceChildren(
        ...page.pipeline_runs.map((r) =>
          h(
            "tr",
            { "data-testid": `run-row-${r.run_number}` },
            h(
              "td",
              {},
              h("a", { href: routes.run(projectId, pipelineId, r.pipeline_run_id) }, `#${r.run_number}`),
            ),
            h("td", {}, pill(neverStarted(r) ? "START_FAILED" : r.status)),
            h(
              "td",
              { class: "opt" },
              h(
                "span",
                { class: "stage-dots" },
                [...r.stage_status_list]
                  .sort((a, b) => a.sequence - b.sequence)
                  .map((st) =>
                    h("span", {
                      class: `dot s-${st.status.toLowerCase()}`,
                      title: `${st.name}: ${st.status}`,
                    }),
                  ),
              ),
            ),
            h(
              "td",
              { class: "opt", "data-testid": "run-trigger" },
              originBrief(r.trigger_type, r.executor_name, buildParamsOf(r.build_params)),
            ),
            h("td", {}, timeEl(r.start_time, now)),
            h("td", { class: "num" }, durationText(r.start_time, r.end_time, now)),
          ),
        ),
      ),
    );
    empty.hidden = total > 0;
    prev.disabled = offset === 0;
    next.disabled = offset + PAGE >= total;
    setText(range, total === 0 ? "" : `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}`);
    pager.hidden = total <= PAGE;
    return busy;
  }

  void (async () => {
    // A pipeline that is not there (a stale link, another project's id) gets one message and a
    // way back, rather than an empty page whose buttons all fail.
    try {
      await ctx.api.get(paths.pipeline(projectId, pipelineId));
    } catch (err) {
      if (life.signal.aborted) return;
      if (isNotFound(err)) {
        notFoundPage(main, {
          title: "Pipeline not found",
          text: "This pipeline does not exist, or this token may not see it. It may have been deleted.",
          back: { href: routes.pipelines(projectId), label: "Back to the pipelines" },
        });
        return;
      }
    }
    // Only what this token may do is offered.
    const may = (await rightsOf(ctx, [pipelineId])).get(pipelineId);
    if (may) {
      runBtn.hidden = !may.execute;
      editLink.hidden = !may.update;
      tagsBtn.hidden = !may.tag;
    }
    // The panel reads the pipeline; the heading shows what it read (showDetail).
    await panel.load();
    while (!life.signal.aborted) {
      let busy = false;
      try {
        busy = await load();
      } catch (err) {
        if (life.signal.aborted) return;
        ctx.notify(errorText(err), "error");
      }
      await sleep(busy ? 2000 : 10_000, life.signal);
    }
  })();

  return () => {
    life.abort();
    panel.dispose();
  };
};
