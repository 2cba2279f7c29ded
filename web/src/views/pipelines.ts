// The pipelines of a project: latest run of each (status, duration, time), its tags as chips, a
// name filter, a tag filter and a group filter, paging, selection for a batch run (or Run group)
// with its per-pipeline results followed live, Move selected to a group, and per-row Run… / Tags…
// / Edit / Disable / Delete; Manage tags and Manage groups for the project's.

import { paths } from "../api.js";
import { errorText, routes, sleep, type View } from "../context.js";
import { confirmDialog } from "../dialogs.js";
import { fill, h, keepFocus, setText } from "../dom.js";
import { durationText, pill, shortId, timeEl, updatePill } from "../format.js";
import {
  flatten,
  groupOptions,
  groupTree,
  manageGroupsDialog,
  movePipelines,
  namesInGroup,
  type PipelineGroup,
} from "../groups.js";
import { type Rights, rightsFor, rightsOf } from "../rights.js";
import { runDialog } from "../run-dialog.js";
import { neverStarted, startReasonText } from "../run-origin.js";
import { knownTagIds } from "../tag-colors.js";
import {
  listTags,
  manageTagsDialog,
  pipelineTagsDialog,
  tagChip,
  tagChips,
  tagsOfPipelines,
} from "../tags.js";
import type {
  BatchStart,
  BatchStartResult,
  PipelineItem,
  PipelineList,
  PipelineTag,
  RunDetail,
  RunSummary,
} from "../types.js";
import { TERMINAL } from "../types.js";

const PAGE_SIZES = [10, 20, 50] as const;
/** How often the tags each pipeline carries are read again when nothing here changed them. */
const TAGS_EVERY_MS = 15_000;

interface BatchRow {
  readonly pipelineId: string;
  readonly name: string;
  readonly runId: string;
  start: BatchStartResult | undefined;
  /** Its run was refused at the start (a disabled pipeline): counted apart, never as a failure. */
  notStarted: boolean;
  run: { status: string; start: number; end: number; number: number } | undefined;
  readonly statusPill: HTMLElement;
  readonly startCell: HTMLElement;
  readonly dur: HTMLElement;
  readonly numberCell: HTMLElement;
}

/** Which pipelines the list shows, kept while the user visits other pages of the UI. */
const remembered = new Map<
  string,
  { name: string; tagIds: string[]; offset: number; limit: number; group?: string }
>();
/** The group filter's value for "in no group". */
const UNGROUPED = "-";

export const pipelinesView: View = (ctx, main) => {
  const projectId = ctx.projectId;
  const life = new AbortController();
  const state = remembered.get(projectId) ?? { name: "", tagIds: [], offset: 0, limit: 10 };
  remembered.set(projectId, state);
  let items: readonly PipelineItem[] = [];
  let total = 0;
  let latest = new Map<string, RunSummary>();
  let rights = new Map<string, Rights>();
  const selected = new Map<string, string>(); // id → name, across pages
  let batch: BatchRow[] = [];
  let wake: (() => void) | undefined;
  let again = false;
  let lastKey = "";
  let groups: PipelineGroup[] = [];
  let tags: PipelineTag[] = [];
  let carried = new Map<string, PipelineTag[]>();
  /** When `carried` was read, and for which name filter; 0: read it again. */
  let carriedAt = 0;
  let carriedFor = "";

  const heading = h("h1", { tabindex: "-1" }, "Pipelines");
  const filter = h("input", {
    type: "search",
    id: "filter",
    placeholder: "Filter by name",
    autocomplete: "off",
    value: state.name,
    "data-testid": "filter",
  });
  const manageTags = h(
    "button",
    { type: "button", class: "btn", "data-testid": "manage-tags" },
    "Manage tags",
  );
  const tagFilter = h("div", {
    class: "tag-filter",
    role: "group",
    "aria-label": "Filter by tag",
    "data-testid": "tag-filter",
    hidden: true,
  });
  const groupFilter = h("select", { id: "group-filter", "data-testid": "group-filter" });
  const runGroup = h(
    "button",
    { type: "button", class: "btn", disabled: true, "data-testid": "run-group" },
    "Run group",
  );
  const manageGroups = h(
    "button",
    { type: "button", class: "btn", "data-testid": "manage-groups" },
    "Manage groups",
  );
  const moveTarget = h("select", { id: "move-target", "data-testid": "move-target" });
  const moveSelected = h(
    "button",
    { type: "button", class: "btn small", disabled: true, "data-testid": "move-selected" },
    "Move selected",
  );
  const runSelected = h(
    "button",
    { type: "button", class: "btn primary", disabled: true, "data-testid": "run-selected" },
    "Run selected",
  );
  const selectionInfo = h("span", { class: "muted selection-info", "aria-live": "polite" });
  const clearSel = h("button", { type: "button", class: "btn small ghost", hidden: true }, "Clear");
  const pageSize = h(
    "select",
    { id: "page-size" },
    PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === state.limit }, String(n))),
  );
  const selectAll = h("input", {
    type: "checkbox",
    "aria-label": "Select all on this page",
    "data-testid": "select-all",
  });
  const tbody = h("tbody", {});
  const empty = h("p", { class: "empty muted", hidden: true, "data-testid": "empty" });
  const range = h("span", { class: "muted" });
  const prev = h("button", { type: "button", class: "btn small", "data-testid": "page-prev" }, "Previous");
  const next = h("button", { type: "button", class: "btn small", "data-testid": "page-next" }, "Next");
  const batchBox = h("section", {
    class: "card batch",
    hidden: true,
    "data-testid": "batch-result",
    "aria-labelledby": "batch-title",
  });

  main.replaceChildren(
    h(
      "section",
      { class: "page pipelines-view" },
      h(
        "header",
        { class: "page-head" },
        heading,
        h(
          "div",
          { class: "actions" },
          manageTags,
          manageGroups,
          h(
            "a",
            { class: "btn", href: routes.templates(projectId), "data-testid": "from-template" },
            "From a template",
          ),
          h(
            "a",
            { class: "btn", href: routes.newPipeline(projectId), "data-testid": "new-pipeline" },
            "New pipeline",
          ),
        ),
      ),
      h(
        "div",
        { class: "toolbar" },
        h(
          "div",
          { class: "field inline" },
          h("label", { for: "filter", class: "visually-hidden" }, "Filter by name"),
          filter,
        ),
        h(
          "div",
          { class: "field inline" },
          h("label", { for: "group-filter" }, "Group"),
          groupFilter,
          runGroup,
        ),
        h(
          "div",
          { class: "toolbar-end" },
          selectionInfo,
          clearSel,
          h("label", { for: "move-target", class: "visually-hidden" }, "Move selected to group"),
          moveTarget,
          moveSelected,
          runSelected,
        ),
      ),
      tagFilter,
      batchBox,
      h(
        "div",
        { class: "card table-card" },
        h(
          "table",
          { class: "table pipelines", "data-testid": "pipelines-table" },
          h("caption", { class: "visually-hidden" }, "Pipelines and their latest runs"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", class: "check-col" }, selectAll),
              h("th", { scope: "col" }, "Pipeline"),
              h("th", { scope: "col" }, "Latest run"),
              h("th", { scope: "col", class: "num opt" }, "Duration"),
              h("th", { scope: "col", class: "opt" }, "Started"),
              h(
                "th",
                { scope: "col", class: "actions-col" },
                h("span", { class: "visually-hidden" }, "Actions"),
              ),
            ),
          ),
          tbody,
        ),
        empty,
        h(
          "nav",
          { class: "pager", "aria-label": "Pages of pipelines" },
          h("label", { for: "page-size", class: "muted" }, "Per page"),
          pageSize,
          range,
          prev,
          next,
        ),
      ),
    ),
  );
  document.title = "Pipelines · Pipewright";

  function refreshSoon(opts: { tags?: boolean } = {}): void {
    if (opts.tags) carriedAt = 0;
    lastKey = "";
    again = true;
    wake?.();
  }

  function updateSelection(): void {
    const n = selected.size;
    runSelected.disabled = n === 0;
    moveSelected.disabled = n === 0;
    setText(runSelected, n === 0 ? "Run selected" : `Run selected (${n})`);
    setText(selectionInfo, n === 0 ? "" : `${n} selected`);
    clearSel.hidden = n === 0;
    const onPage = items.filter((p) => selected.has(p.pipeline_id)).length;
    selectAll.checked = items.length > 0 && onPage === items.length;
    selectAll.indeterminate = onPage > 0 && onPage < items.length;
  }

  let filterTimer: ReturnType<typeof setTimeout> | undefined;
  filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      state.name = filter.value.trim();
      state.offset = 0;
      refreshSoon();
    }, 250);
  });
  pageSize.addEventListener("change", () => {
    state.limit = Number(pageSize.value);
    state.offset = 0;
    refreshSoon();
  });
  prev.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - state.limit);
    refreshSoon();
  });
  next.addEventListener("click", () => {
    state.offset += state.limit;
    refreshSoon();
  });
  selectAll.addEventListener("change", () => {
    for (const p of items) {
      if (selectAll.checked) selected.set(p.pipeline_id, p.name);
      else selected.delete(p.pipeline_id);
    }
    for (const box of tbody.querySelectorAll<HTMLInputElement>("input[type=checkbox]"))
      box.checked = selectAll.checked;
    updateSelection();
  });
  clearSel.addEventListener("click", () => {
    selected.clear();
    for (const box of tbody.querySelectorAll<HTMLInputElement>("input[type=checkbox]")) box.checked = false;
    updateSelection();
  });
  runSelected.addEventListener("click", () => {
    const chosen = [...selected];
    void startBatch({ pipeline_ids: chosen.map(([id]) => id) }, new Map(chosen));
  });
  groupFilter.addEventListener("change", () => {
    state.group = groupFilter.value;
    state.offset = 0;
    runGroup.disabled = state.group === "" || state.group === UNGROUPED;
    refreshSoon();
  });
  runGroup.addEventListener("click", async () => {
    const id = state.group ?? "";
    if (id === "" || id === UNGROUPED) return;
    try {
      // The server picks the group's pipelines (subgroups too): one batch, as Run selected.
      await startBatch({ group_id: id }, await namesInGroup(ctx, id));
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
  });
  manageGroups.addEventListener("click", async () => {
    await manageGroupsDialog(ctx);
    refreshSoon();
  });
  moveSelected.addEventListener("click", async () => {
    const ids = [...selected.keys()];
    try {
      await movePipelines(ctx, moveTarget.value, ids);
      const target = flatten(groups).find((f) => f.group.id === moveTarget.value);
      ctx.notify(
        `Moved ${ids.length} pipeline${ids.length === 1 ? "" : "s"} to ${target ? target.path : "no group"}`,
        "success",
      );
      selected.clear();
      for (const box of tbody.querySelectorAll<HTMLInputElement>("input[type=checkbox]")) box.checked = false;
      updateSelection();
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
    refreshSoon();
  });

  /** The group filter and the move target, from the tree (kept as chosen while it still exists). */
  function renderGroups(): void {
    const flat = flatten(groups);
    if (state.group && state.group !== UNGROUPED && !flat.some((f) => f.group.id === state.group))
      state.group = "";
    const current = state.group ?? "";
    groupFilter.replaceChildren(
      h("option", { value: "", selected: current === "" }, "All pipelines"),
      h("option", { value: UNGROUPED, selected: current === UNGROUPED }, "Ungrouped"),
      ...groupOptions(flat, current),
    );
    const target = moveTarget.value;
    moveTarget.replaceChildren(h("option", { value: "" }, "(no group)"), ...groupOptions(flat, target));
    runGroup.disabled = current === "" || current === UNGROUPED;
  }
  manageTags.addEventListener("click", async () => {
    await manageTagsDialog(ctx);
    refreshSoon({ tags: true });
  });

  /** One toggle per tag (pressed: the list shows the pipelines carrying it, or any pressed one). */
  function renderTagFilter(): void {
    tagFilter.hidden = tags.length === 0;
    const buttons = tags.map((t) => {
      const on = state.tagIds.includes(t.tag_id);
      return h(
        "button",
        {
          type: "button",
          class: `btn small tag-toggle${on ? " on" : ""}`,
          "aria-pressed": on ? "true" : "false",
          "data-testid": `tag-filter-${t.name}`,
          "data-focus-key": `tag-filter-${t.tag_id}`,
          on: {
            click: () => {
              state.tagIds = on ? state.tagIds.filter((id) => id !== t.tag_id) : [...state.tagIds, t.tag_id];
              state.offset = 0;
              renderTagFilter();
              refreshSoon();
            },
          },
        },
        h("span", { class: "tag-toggle-mark", "aria-hidden": "true" }, on ? "✓" : ""),
        tagChip(t),
      );
    });
    keepFocus(tagFilter, () =>
      fill(
        tagFilter,
        h("span", { class: "muted tag-filter-label", "aria-hidden": "true" }, "Tags:"),
        ...buttons,
        state.tagIds.length > 0
          ? h(
              "button",
              {
                type: "button",
                class: "btn small ghost",
                "data-testid": "tag-filter-clear",
                "data-focus-key": "tag-filter-clear",
                on: {
                  click: () => {
                    state.tagIds = [];
                    state.offset = 0;
                    renderTagFilter();
                    refreshSoon();
                  },
                },
              },
              "All pipelines",
            )
          : null,
      ),
    );
  }

  async function editTags(p: PipelineItem): Promise<void> {
    if (await pipelineTagsDialog(ctx, { id: p.pipeline_id, name: p.name })) refreshSoon({ tags: true });
  }

  function row(p: PipelineItem, now: number): HTMLTableRowElement {
    const run = latest.get(p.pipeline_id);
    const may = rightsFor(rights, p.pipeline_id);
    const box = h("input", {
      type: "checkbox",
      checked: selected.has(p.pipeline_id),
      "aria-label": `Select ${p.name}`,
      "data-testid": `select-${p.name}`,
      "data-focus-key": `select-${p.pipeline_id}`,
    });
    if (!may.execute && !may.update) {
      // Selection serves Run selected and Move selected: nothing it could do here.
      box.disabled = true;
      box.title = "This token may not run or move this pipeline";
    }
    box.addEventListener("change", () => {
      if (box.checked) selected.set(p.pipeline_id, p.name);
      else selected.delete(p.pipeline_id);
      updateSelection();
    });
    // Only what this token may do with this pipeline is offered (check-rights).
    const actions = h(
      "div",
      { class: "row-actions" },
      may.execute &&
        h(
          "button",
          {
            type: "button",
            class: "btn small",
            "data-testid": `run-${p.name}`,
            "data-focus-key": `run-${p.pipeline_id}`,
            "aria-label": `Run ${p.name}…`,
            on: { click: () => void runOne(p) },
          },
          "Run…",
        ),
      may.tag &&
        h(
          "button",
          {
            type: "button",
            class: "btn small ghost",
            "data-testid": `tags-${p.name}`,
            "data-focus-key": `tags-${p.pipeline_id}`,
            "aria-label": `Tags of ${p.name}…`,
            on: { click: () => void editTags(p) },
          },
          "Tags…",
        ),
      may.update &&
        h(
          "a",
          {
            class: "btn small ghost",
            "data-testid": `edit-${p.name}`,
            href: routes.edit(projectId, p.pipeline_id),
            "aria-label": `Edit ${p.name}`,
          },
          "Edit",
        ),
      may.banned &&
        h(
          "button",
          {
            type: "button",
            class: "btn small ghost",
            "data-testid": `${p.banned ? "enable" : "disable"}-${p.name}`,
            "data-focus-key": `ban-${p.pipeline_id}`,
            "aria-label": `${p.banned ? "Enable" : "Disable"} ${p.name}`,
            on: { click: () => void toggleBan(p) },
          },
          p.banned ? "Enable" : "Disable",
        ),
      may.delete &&
        h(
          "button",
          {
            type: "button",
            class: "btn small ghost danger-text",
            "data-testid": `delete-${p.name}`,
            "data-focus-key": `delete-${p.pipeline_id}`,
            "aria-label": `Delete ${p.name}`,
            on: { click: () => void remove(p) },
          },
          "Delete",
        ),
    );
    return h(
      "tr",
      { "data-testid": `row-${p.name}`, class: p.banned ? "banned" : "" },
      h("td", { class: "check-col" }, box),
      h(
        "td",
        { class: "name-cell" },
        h("a", { href: routes.pipeline(projectId, p.pipeline_id), class: "name" }, p.name),
        p.banned ? h("span", { class: "badge", "data-testid": `banned-${p.name}` }, "Disabled") : null,
        tagChips(carried.get(p.pipeline_id), `Tags of ${p.name}`),
      ),
      h(
        "td",
        { "data-testid": `latest-${p.name}` },
        run
          ? h(
              "a",
              { href: routes.run(projectId, p.pipeline_id, run.pipeline_run_id), class: "run-link" },
              pill(neverStarted(run) ? "START_FAILED" : run.status),
              h("span", { class: "muted run-no" }, `#${run.run_number}`),
            )
          : h("span", { class: "muted" }, "Never run"),
      ),
      h("td", { class: "num opt" }, run ? durationText(run.start_time, run.end_time, now) : "—"),
      h("td", { class: "opt" }, run ? timeEl(run.start_time, now) : "—"),
      h("td", { class: "actions-col" }, actions),
    );
  }

  function render(): void {
    const now = ctx.now();
    keepFocus(tbody, () => tbody.replaceChildren(...items.map((p) => row(p, now))));
    empty.hidden = items.length > 0;
    const tagged = state.tagIds.length > 0;
    setText(
      empty,
      state.name
        ? `No pipeline${tagged ? " with these tags" : ""} matches “${state.name}”.`
        : tagged
          ? "No pipeline carries these tags."
          : "No pipelines yet. Create one with New pipeline.",
    );
    setText(
      range,
      total === 0 ? "" : `${state.offset + 1}–${Math.min(state.offset + state.limit, total)} of ${total}`,
    );
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + state.limit >= total;
    updateSelection();
  }

  /** The project's tags every round (one call); who carries them when due or changed. */
  async function loadTags(): Promise<void> {
    const fresh = await listTags(ctx);
    const changed = JSON.stringify(fresh) !== JSON.stringify(tags);
    tags = fresh;
    const known = knownTagIds(state.tagIds, tags);
    if (changed || known.length !== state.tagIds.length) {
      state.tagIds = known;
      renderTagFilter();
    }
    if (changed || carriedFor !== state.name || ctx.now() - carriedAt > TAGS_EVERY_MS) {
      carried = await tagsOfPipelines(ctx, tags, state.name || undefined);
      carriedAt = ctx.now();
      carriedFor = state.name;
    }
  }

  async function load(): Promise<boolean> {
    try {
      await loadTags();
    } catch {
      // Tags are an extra: the list goes on without fresh ones, and its own call reports a
      // server that does not answer.
    }
    try {
      const fresh = await groupTree(ctx);
      if (JSON.stringify(fresh) !== JSON.stringify(groups)) {
        groups = fresh;
        renderGroups();
      }
    } catch {
      // Groups are an extra, as tags are.
    }
    const list = await ctx.api.post<PipelineList>(paths.list(projectId), {
      name: state.name || undefined,
      ...(state.tagIds.length > 0 ? { tag_ids: state.tagIds } : {}),
      ...(state.group === UNGROUPED ? { by_group: true } : state.group ? { group_path_id: state.group } : {}),
      offset: state.offset,
      limit: state.limit,
    });
    // A page past the end (pipelines were deleted): show the last page there is.
    if (list.pipelines.length === 0 && list.total > 0 && state.offset > 0) {
      state.offset = Math.max(0, Math.floor((list.total - 1) / state.limit) * state.limit);
      return load();
    }
    const ids = new Set(list.pipelines.map((p) => p.pipeline_id));
    for (const r of batch) ids.add(r.pipelineId);
    const runs = ids.size === 0 ? [] : await ctx.api.post<RunSummary[]>(paths.status(projectId), [...ids]);
    latest = new Map(runs.map((r) => [r.pipeline_id, r]));
    const unknown = list.pipelines.map((p) => p.pipeline_id).filter((id) => !rights.has(id));
    if (unknown.length > 0) rights = new Map([...rights, ...(await rightsOf(ctx, unknown))]);
    items = list.pipelines;
    total = list.total;
    const busy = runs.some((r) => !TERMINAL.has(r.status));
    const key = JSON.stringify([list, runs, tags, [...carried]]);
    if (key !== lastKey || busy) {
      lastKey = key;
      render();
    }
    await updateBatch();
    return busy || batch.some((r) => !r.notStarted && (!r.run || !TERMINAL.has(r.run.status)));
  }

  async function runOne(p: PipelineItem): Promise<void> {
    const run = await runDialog(ctx, p.pipeline_id);
    if (run) ctx.navigate(routes.run(projectId, p.pipeline_id, run));
  }

  async function toggleBan(p: PipelineItem): Promise<void> {
    try {
      await ctx.api.put(`${paths.pipeline(projectId, p.pipeline_id)}/${p.banned ? "unban" : "ban"}`);
      ctx.notify(p.banned ? `Enabled ${p.name}` : `Disabled ${p.name}`, "success");
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
    refreshSoon();
  }

  async function remove(p: PipelineItem): Promise<void> {
    const ok = await confirmDialog({
      title: `Delete ${p.name}?`,
      text: "The pipeline, its runs and their logs are deleted; runs in progress are stopped first. This cannot be undone.",
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await ctx.api.del(paths.pipeline(projectId, p.pipeline_id));
      selected.delete(p.pipeline_id);
      ctx.notify(`Deleted ${p.name}`, "success");
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
    refreshSoon();
  }

  // ---- batch runs ----------------------------------------------------------------------------

  /** One batch-runs call (pipeline_ids, or our group_id); `names` names the rows. */
  async function startBatch(
    body: Record<string, unknown>,
    names: ReadonlyMap<string, string>,
  ): Promise<void> {
    runSelected.disabled = true;
    try {
      // One key per click: if the answer is lost and the browser sends it again, nothing runs twice.
      const key = crypto.randomUUID();
      const res = await ctx.api.post<{ result: BatchStart[] }>(paths.batch(projectId), body, {
        "Idempotency-Key": key,
      });
      batch = res.result.map((r) => {
        const statusPill = pill("QUEUED");
        return {
          pipelineId: r.pipeline_id,
          name: names.get(r.pipeline_id) ?? shortId(r.pipeline_id),
          runId: r.pipeline_run_id,
          start: undefined,
          notStarted: false,
          run: undefined,
          statusPill,
          startCell: h("td", {}, h("span", { class: "muted" }, "…")),
          dur: h("td", { class: "num" }, "—"),
          numberCell: h(
            "td",
            {},
            h(
              "a",
              { href: routes.run(projectId, r.pipeline_id, r.pipeline_run_id), title: r.pipeline_run_id },
              "run",
            ),
            h(
              "span",
              { class: "muted run-id", "data-testid": `batch-run-id-${names.get(r.pipeline_id) ?? ""}` },
              ` ${r.pipeline_run_id}`,
            ),
          ),
        };
      });
      renderBatch();
      const started = await ctx.api.post<{ result: BatchStartResult[] }>(paths.batchResult(projectId), {
        query: res.result,
      });
      for (const s of started.result) {
        const row = batch.find((b) => b.runId === s.pipeline_run_id);
        if (!row) continue;
        row.start = s;
        row.notStarted = s.status === "START_FAILED";
        const reason = s.reason ? startReasonText(s.reason) : "";
        fill(
          row.startCell,
          pill(s.status, `start-${row.name}`),
          reason ? h("span", { class: "reason", "data-testid": `reason-${row.name}` }, reason) : null,
        );
        if (row.notStarted) {
          // Refused before it ran: no status of a run, no duration.
          fill(row.statusPill.parentElement ?? row.statusPill, h("span", { class: "muted" }, "—"));
          setText(row.dur, "—");
        }
      }
      if (body.pipeline_ids) selected.clear();
      const refused = batch.filter((r) => r.notStarted).length;
      const began = batch.length - refused;
      ctx.notify(
        `Started ${began} of ${batch.length} pipeline${batch.length === 1 ? "" : "s"} in one batch` +
          (refused > 0 ? `; ${refused} not started (disabled)` : ""),
        refused > 0 && began === 0 ? "error" : "success",
      );
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
    updateSelection();
    refreshSoon();
  }

  function renderBatch(): void {
    const dismiss = h(
      "button",
      { type: "button", class: "btn small ghost", "data-testid": "batch-dismiss" },
      "Dismiss",
    );
    dismiss.addEventListener("click", () => {
      batch = [];
      batchBox.hidden = true;
    });
    batchBox.hidden = false;
    batchBox.replaceChildren(
      h(
        "div",
        { class: "batch-head" },
        h(
          "h2",
          { id: "batch-title" },
          `Batch run · ${batch.length} pipeline${batch.length === 1 ? "" : "s"}`,
        ),
        dismiss,
      ),
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "table compact" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Pipeline"),
              h("th", { scope: "col" }, "Run"),
              h("th", { scope: "col" }, "Start"),
              h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col", class: "num" }, "Duration"),
            ),
          ),
          h(
            "tbody",
            {},
            batch.map((r) =>
              h(
                "tr",
                { "data-testid": `batch-row-${r.name}` },
                h("th", { scope: "row" }, r.name),
                r.numberCell,
                r.startCell,
                h("td", { "data-testid": `batch-status-${r.name}` }, r.statusPill),
                r.dur,
              ),
            ),
          ),
        ),
      ),
    );
  }

  /** Latest status answers cover most runs; a run overtaken by a newer one is asked for itself. */
  async function updateBatch(): Promise<void> {
    if (batch.length === 0) return;
    const now = ctx.now();
    const pending = batch.filter((r) => !r.notStarted && (!r.run || !TERMINAL.has(r.run.status)));
    await Promise.all(
      pending.map(async (r) => {
        const l = latest.get(r.pipelineId);
        if (l && l.pipeline_run_id === r.runId) {
          r.run = { status: l.status, start: l.start_time, end: l.end_time, number: l.run_number };
          return;
        }
        try {
          const d = await ctx.api.get<RunDetail>(paths.detail(projectId, r.pipelineId, r.runId));
          r.run = { status: d.status, start: d.start_time, end: d.end_time, number: d.run_number };
        } catch {
          // Deleted meanwhile: leave the row as it was.
        }
      }),
    );
    for (const r of batch) {
      if (!r.run || r.notStarted) continue;
      updatePill(r.statusPill, r.run.status);
      setText(r.dur, durationText(r.run.start, r.run.end, now));
      const link = r.numberCell.querySelector("a");
      if (link) setText(link, `#${r.run.number}`);
    }
  }

  void (async () => {
    while (!life.signal.aborted) {
      let busy = false;
      again = false;
      try {
        busy = await load();
      } catch (err) {
        if (life.signal.aborted) return;
        ctx.notify(errorText(err), "error");
      }
      // Something asked for fresh data while this round was loading.
      if (again) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        void sleep(busy ? 1000 : 5000, life.signal).then(resolve);
      });
      wake = undefined;
    }
  })();

  return () => {
    life.abort();
    wake?.();
    clearTimeout(filterTimer);
  };
};
