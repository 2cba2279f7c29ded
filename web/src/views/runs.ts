// The project's runs across its pipelines, newest first, filtered by status, pipeline, trigger,
// branch and time. The filters and the page live in the URL (#/p/{id}/runs?status=FAILED&…), so a
// link, Back and a reload show the same runs. The server filters all but the branch: a run's branch
// is in its sources, which the list answers as build parameters; the page matches it over the
// newest runs the server answered for the other filters, and says so.

import { paths } from "../api.js";
import { errorText, routes, sleep, type View } from "../context.js";
import { h, keepFocus, setText } from "../dom.js";
import { durationText, pill, statusLabel, timeEl } from "../format.js";
import { branchOf, buildParamsOf, neverStarted, originBrief, triggerLabel } from "../run-origin.js";
import { PAGE_SIZES, parseQuery, queryString, type RunsQuery, serverFilter } from "../runs-query.js";
import type { PipelineList, ProjectRunList } from "../types.js";
import { TERMINAL } from "../types.js";

const STATUSES = ["RUNNING", "QUEUED", "PAUSED", "COMPLETED", "FAILED", "CANCELED"] as const;
const TRIGGERS = ["Manual", "Scheduler", "Push", "CreateTag", "MR"] as const;
/** How many of the newest runs a branch filter looks through (the server's largest page). */
export const BRANCH_WINDOW = 100;

export const projectRunsView: View = (ctx, main) => {
  const projectId = ctx.projectId;
  const life = new AbortController();
  let q = parseQuery(location.hash);
  let lastKey = "";
  let wake: (() => void) | undefined;

  const heading = h("h1", { tabindex: "-1" }, "Runs");
  const select = (id: string, label: string, options: [string, string][], value: string) => {
    const el = h(
      "select",
      { id, "data-testid": id },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
    );
    return { el, field: h("div", { class: "field inline" }, h("label", { for: id }, label), el) };
  };
  const status = select(
    "runs-status",
    "Status",
    [["", "Any"], ...STATUSES.map((st): [string, string] => [st, statusLabel(st)])],
    q.status,
  );
  const pipeline = select("runs-pipeline", "Pipeline", [["", "All pipelines"]], q.pipeline);
  const trigger = select(
    "runs-trigger",
    "Trigger",
    [["", "Any"], ...TRIGGERS.map((t): [string, string] => [t, triggerLabel(t)])],
    q.trigger,
  );
  const branch = h("input", {
    type: "search",
    id: "runs-branch",
    placeholder: "Branch",
    autocomplete: "off",
    value: q.branch,
    "data-testid": "runs-branch",
  });
  const from = h("input", { type: "date", id: "runs-from", value: q.from, "data-testid": "runs-from" });
  const to = h("input", { type: "date", id: "runs-to", value: q.to, "data-testid": "runs-to" });
  const clear = h(
    "button",
    { type: "button", class: "btn small ghost", "data-testid": "runs-clear" },
    "Clear filters",
  );
  const note = h("p", { class: "muted small-text", hidden: true, "data-testid": "runs-branch-note" });
  const tbody = h("tbody", {});
  const empty = h("p", { class: "empty muted", hidden: true, "data-testid": "runs-empty" });
  const range = h("span", { class: "muted", "data-testid": "runs-range" });
  const pageSize = h(
    "select",
    { id: "runs-page-size" },
    PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === q.limit }, String(n))),
  );
  const prev = h("button", { type: "button", class: "btn small", "data-testid": "runs-prev" }, "Previous");
  const next = h("button", { type: "button", class: "btn small", "data-testid": "runs-next" }, "Next");

  main.replaceChildren(
    h(
      "section",
      { class: "page runs-view" },
      h("header", { class: "page-head" }, heading),
      h(
        "div",
        { class: "toolbar runs-filters", role: "search", "aria-label": "Filter runs" },
        status.field,
        pipeline.field,
        trigger.field,
        h("div", { class: "field inline" }, h("label", { for: "runs-branch" }, "Branch"), branch),
        h("div", { class: "field inline" }, h("label", { for: "runs-from" }, "From"), from),
        h("div", { class: "field inline" }, h("label", { for: "runs-to" }, "To"), to),
        clear,
      ),
      note,
      h(
        "div",
        { class: "card table-card" },
        h(
          "table",
          { class: "table", "data-testid": "project-runs-table" },
          h("caption", { class: "visually-hidden" }, "Runs of the project"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Pipeline"),
              h("th", { scope: "col" }, "Run"),
              h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col", class: "opt" }, "Trigger"),
              h("th", { scope: "col" }, "Started"),
              h("th", { scope: "col", class: "num" }, "Duration"),
            ),
          ),
          tbody,
        ),
        empty,
        h(
          "nav",
          { class: "pager", "aria-label": "Pages of runs" },
          h("label", { for: "runs-page-size", class: "muted" }, "Per page"),
          pageSize,
          range,
          prev,
          next,
        ),
      ),
    ),
  );
  document.title = "Runs · Pipewright";

  /** The URL follows the filters without a navigation (no hashchange: the view stays). */
  function changed(patch: Partial<RunsQuery>, resetPage = true): void {
    q = { ...q, ...patch, ...(resetPage ? { offset: 0 } : {}) };
    history.replaceState(null, "", routes.runs(projectId, queryString(q)));
    lastKey = "";
    wake?.();
  }
  status.el.addEventListener("change", () => changed({ status: status.el.value }));
  pipeline.el.addEventListener("change", () => changed({ pipeline: pipeline.el.value }));
  trigger.el.addEventListener("change", () => changed({ trigger: trigger.el.value }));
  from.addEventListener("change", () => changed({ from: from.value }));
  to.addEventListener("change", () => changed({ to: to.value }));
  pageSize.addEventListener("change", () => changed({ limit: Number(pageSize.value) }));
  let typing: ReturnType<typeof setTimeout> | undefined;
  branch.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => changed({ branch: branch.value.trim() }), 250);
  });
  clear.addEventListener("click", () => {
    status.el.value = "";
    pipeline.el.value = "";
    trigger.el.value = "";
    branch.value = "";
    from.value = "";
    to.value = "";
    changed({ status: "", pipeline: "", trigger: "", branch: "", from: "", to: "" });
  });
  prev.addEventListener("click", () => changed({ offset: Math.max(0, q.offset - q.limit) }, false));
  next.addEventListener("click", () => changed({ offset: q.offset + q.limit }, false));

  async function loadPipelines(): Promise<void> {
    const list = await ctx.api.post<PipelineList>(paths.list(projectId), { offset: 0, limit: 100 });
    const names = [...list.pipelines].sort((a, b) => a.name.localeCompare(b.name));
    pipeline.el.replaceChildren(
      h("option", { value: "", selected: q.pipeline === "" }, "All pipelines"),
      ...names.map((p) =>
        h("option", { value: p.pipeline_id, selected: p.pipeline_id === q.pipeline }, p.name),
      ),
    );
  }

  async function load(): Promise<boolean> {
    const now = ctx.now();
    const byBranch = q.branch !== "";
    const answer = await ctx.api.post<ProjectRunList>(paths.projectRuns(projectId), {
      ...serverFilter(q),
      // The branch is matched here, over the newest runs that pass the other filters.
      offset: byBranch ? 0 : q.offset,
      limit: byBranch ? BRANCH_WINDOW : q.limit,
    });
    const want = q.branch.toLowerCase();
    const matching = byBranch
      ? answer.pipeline_runs.filter((r) =>
          (branchOf(buildParamsOf(r.build_params)) ?? "").toLowerCase().includes(want),
        )
      : answer.pipeline_runs;
    const rows = byBranch ? matching.slice(q.offset, q.offset + q.limit) : matching;
    const total = byBranch ? matching.length : answer.total;
    note.hidden = !byBranch;
    setText(
      note,
      answer.total > BRANCH_WINDOW
        ? `The branch is matched in this page over the newest ${BRANCH_WINDOW} of ${answer.total} runs that pass the other filters (the server does not filter by branch).`
        : "The branch is matched in this page over the runs that pass the other filters (the server does not filter by branch).",
    );
    const busy = rows.some((r) => !TERMINAL.has(r.status));
    const key = JSON.stringify([q, answer]);
    if (key !== lastKey || busy) {
      lastKey = key;
      keepFocus(tbody, () =>
        tbody.replaceChildren(
          ...rows.map((r) =>
            h(
              "tr",
              { "data-testid": `runs-row-${r.pipeline_name}-${r.run_number}` },
              h("td", {}, h("a", { href: routes.pipeline(projectId, r.pipeline_id) }, r.pipeline_name)),
              h(
                "td",
                {},
                h(
                  "a",
                  {
                    href: routes.run(projectId, r.pipeline_id, r.pipeline_run_id),
                    "aria-label": `${r.pipeline_name} run ${r.run_number}`,
                  },
                  `#${r.run_number}`,
                ),
              ),
              h("td", {}, pill(neverStarted(r) ? "START_FAILED" : r.status)),
              h(
                "td",
                { class: "opt" },
                originBrief(r.trigger_type, r.executor_name, buildParamsOf(r.build_params)),
              ),
              h("td", {}, timeEl(r.start_time, now)),
              h("td", { class: "num" }, durationText(r.start_time, r.end_time, now)),
            ),
          ),
        ),
      );
      empty.hidden = rows.length > 0;
      setText(
        empty,
        [q.status, q.pipeline, q.trigger, q.branch, q.from, q.to].some(Boolean)
          ? "No run matches these filters."
          : "No runs yet in this project.",
      );
      setText(range, total === 0 ? "" : `${q.offset + 1}–${Math.min(q.offset + q.limit, total)} of ${total}`);
      prev.disabled = q.offset === 0;
      next.disabled = q.offset + q.limit >= total;
    }
    return busy;
  }

  void (async () => {
    try {
      await loadPipelines();
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
    while (!life.signal.aborted) {
      let busy = false;
      try {
        busy = await load();
      } catch (err) {
        if (life.signal.aborted) return;
        ctx.notify(errorText(err), "error");
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        void sleep(busy ? 2000 : 10_000, life.signal).then(resolve);
      });
      wake = undefined;
    }
  })();

  return () => {
    life.abort();
    wake?.();
    clearTimeout(typing);
  };
};
