// "Triggers & schedules" on a pipeline's page: each schedule as a sentence with its next tick,
// each trigger with its events and filters, the project's webhook on demand; add, edit, switch on
// and off, remove. Every change is one PUT of the whole pipeline, made from a fresh read of it
// so that a change made meanwhile elsewhere is not lost.

import { ApiError, paths } from "./api.js";
import { type Ctx, errorText } from "./context.js";
import { confirmDialog } from "./dialogs.js";
import { type Child, h, keepFocus, setText } from "./dom.js";
import { relativeTime, untilText } from "./format.js";
import { schedulesOf, triggerEntry, triggersOf, updateBody } from "./pipeline-update.js";
import { rightsFor, rightsOf } from "./rights.js";
import {
  EVENT_LABELS,
  EVENT_TYPES,
  eventsOn,
  isOn,
  patternsText,
  scheduleText,
  withEvents,
} from "./schedule-text.js";
import { type SaveOutcome, scheduleDialog, triggerDialog } from "./trigger-forms.js";
import type {
  PipelineDetail,
  ScheduleEntry,
  ScheduleView,
  TriggerEntry,
  TriggerView,
  WebhookInfo,
} from "./types.js";

export interface TriggersPanel {
  readonly el: HTMLElement;
  /** Reads the pipeline and shows its schedules and triggers (and tells onDetail what it read). */
  load(): Promise<void>;
  dispose(): void;
}

/** What a change does to the fresh detail's lists, and which entry it is about (for errors). */
interface Change {
  readonly schedules: readonly ScheduleEntry[];
  readonly triggers: readonly TriggerEntry[];
  readonly at?: { readonly list: "schedules" | "triggers"; readonly index: number };
}

/** A change that cannot be applied to the pipeline as it now is. */
class Stale extends Error {}

const TICK_MS = 15_000;
const NEXT_FORMAT: Intl.DateTimeFormatOptions = {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
};

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function createTriggersPanel(
  ctx: Ctx,
  pipelineId: string,
  onDetail: (d: PipelineDetail) => void,
): TriggersPanel {
  const projectId = ctx.projectId;
  let detail: PipelineDetail | undefined;
  /** Relative hints ("in 5 min") that the ticker keeps current. */
  let hints: { readonly el: HTMLElement; readonly t: number; readonly future: boolean }[] = [];
  let reloading = false;
  /** Adding, editing, switching and removing change the pipeline: `update` (check-rights). */
  let mayUpdate = true;

  const addSchedule = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "add-schedule", disabled: true },
    "Add schedule",
  );
  const addTrigger = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "add-trigger", disabled: true },
    "Add trigger",
  );
  const scheduleList = h("div", { "data-testid": "schedules" }, h("p", { class: "muted" }, "Loading…"));
  const triggerList = h("div", { "data-testid": "triggers" });

  const hookShow = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "webhook-show", "aria-expanded": "false" },
    "Show webhook URL and secret",
  );
  const hookBox = h("div", { class: "webhook", hidden: true, "data-testid": "webhook" });
  const hookNote = h(
    "p",
    { class: "muted small-text", hidden: true, "data-testid": "webhook-viewer" },
    "Seeing the webhook's URL and secret needs the right to change this pipeline.",
  );
  const hookError = h("p", {
    class: "form-error",
    role: "alert",
    hidden: true,
    "data-testid": "webhook-error",
  });

  const el = h(
    "section",
    { class: "card triggers-card", "aria-labelledby": "triggers-heading", "data-testid": "triggers-panel" },
    h("h2", { id: "triggers-heading" }, "Triggers & schedules"),
    h(
      "div",
      { class: "tp-section" },
      h("div", { class: "tp-head" }, h("h3", {}, "Schedules"), addSchedule),
      scheduleList,
    ),
    h(
      "div",
      { class: "tp-section" },
      h("div", { class: "tp-head" }, h("h3", {}, "Triggers"), addTrigger),
      h(
        "p",
        { class: "muted small-text" },
        "A trigger starts the pipeline when its repository's forge delivers a code event to the project's webhook, or, with a poll interval, when a poll finds a branch moved or a new tag.",
      ),
      triggerList,
    ),
    h(
      "div",
      { class: "tp-section" },
      h("div", { class: "tp-head" }, h("h3", {}, "Webhook"), hookShow),
      h(
        "p",
        { class: "muted small-text" },
        "One URL and secret per project: give them to the forge. Needs the right to change pipelines.",
      ),
      hookNote,
      hookError,
      hookBox,
    ),
  );

  // ---- saving ------------------------------------------------------------------------------------

  const PATH = /^(schedules|triggers)\[(\d+)\]\.([A-Za-z_]+)/;

  function outcomeOf(err: unknown, at: Change["at"]): SaveOutcome {
    if (!(err instanceof ApiError)) return { ok: false, message: errorText(err) };
    const m = PATH.exec(err.message);
    const named = m && at && m[1] === at.list && Number(m[2]) === at.index ? m[3] : undefined;
    return {
      ok: false,
      message: err.message,
      ...(err.code.startsWith("HTTP") ? {} : { code: err.code }),
      ...(named ? { field: named } : {}),
    };
  }

  /** Changes run one after another, each on the pipeline as the one before left it. */
  let queue: Promise<unknown> = Promise.resolve();

  /** Reads the pipeline, applies the change, replaces the pipeline, and shows what it now is. */
  function commit(apply: (fresh: PipelineDetail) => Change): Promise<SaveOutcome> {
    const next = queue.then(() => commitNow(apply));
    queue = next;
    return next;
  }

  async function commitNow(apply: (fresh: PipelineDetail) => Change): Promise<SaveOutcome> {
    let at: Change["at"];
    try {
      const fresh = await ctx.api.get<PipelineDetail>(paths.pipeline(projectId, pipelineId));
      const change = apply(fresh);
      at = change.at;
      await ctx.api.put(paths.pipeline(projectId, pipelineId), updateBody(fresh, change));
    } catch (err) {
      // The list is behind what the pipeline now is: show what it is.
      if (err instanceof Stale) void reload();
      return outcomeOf(err, at);
    }
    await reload();
    return { ok: true };
  }

  async function reload(): Promise<void> {
    try {
      const d = await ctx.api.get<PipelineDetail>(paths.pipeline(projectId, pipelineId));
      show(d);
      onDetail(d);
    } catch (err) {
      ctx.notify(errorText(err), "error");
      // Nothing shown yet: say why, instead of "Loading…".
      if (!detail) scheduleList.replaceChildren(h("p", { class: "form-error" }, errorText(err)));
    }
  }

  /** The fresh detail's schedules, with the one this entry came from found by its uuid. */
  function scheduleIndex(fresh: PipelineDetail, uuid: string | undefined): number {
    const i = schedulesOf(fresh).findIndex((s) => s.uuid === uuid);
    if (i < 0) throw new Stale("This schedule was removed meanwhile: nothing was saved.");
    return i;
  }

  /**
   * Triggers have no id: the entry must still be where, and as, it was shown (or, for a switch of
   * one event, at least be the same repository's).
   */
  function triggerIndex(fresh: PipelineDetail, index: number, shown: TriggerEntry, loose = false): number {
    const now = triggersOf(fresh)[index];
    // Compared without the polling state, which moves on by itself.
    if (loose ? now?.git_url !== shown.git_url : !now || !same(triggerEntry(now), triggerEntry(shown)))
      throw new Stale(
        "The triggers were changed elsewhere meanwhile: nothing was saved. The list shows them as they are now.",
      );
    return index;
  }

  const replaceAt = <T>(list: readonly T[], i: number, v: T): T[] => list.map((x, j) => (j === i ? v : x));
  const removeAt = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j !== i);

  async function afterFailure(out: SaveOutcome): Promise<void> {
    if (out.ok) return;
    ctx.notify(out.message, "error");
    await reload();
  }

  // ---- schedules ---------------------------------------------------------------------------------

  async function editSchedule(s?: ScheduleView): Promise<void> {
    const ok = await scheduleDialog({
      title: s ? `Edit schedule${s.name ? ` “${s.name}”` : ""}` : "Add a schedule",
      ...(s ? { entry: s } : {}),
      save: (entry) =>
        commit((fresh) => {
          const list = schedulesOf(fresh);
          const triggers = triggersOf(fresh);
          if (!s)
            return { schedules: [...list, entry], triggers, at: { list: "schedules", index: list.length } };
          const i = scheduleIndex(fresh, s.uuid);
          return {
            schedules: replaceAt<ScheduleEntry>(list, i, entry),
            triggers,
            at: { list: "schedules", index: i },
          };
        }),
    });
    if (ok) ctx.notify(s ? "Schedule saved" : "Schedule added", "success");
  }

  async function toggleSchedule(s: ScheduleView, on: boolean): Promise<void> {
    const out = await commit((fresh) => {
      const i = scheduleIndex(fresh, s.uuid);
      const list = schedulesOf(fresh);
      return {
        schedules: replaceAt<ScheduleEntry>(list, i, { ...list[i]!, enable: on }),
        triggers: triggersOf(fresh),
        at: { list: "schedules", index: i },
      };
    });
    if (out.ok) ctx.notify(on ? "Schedule enabled" : "Schedule disabled", "success");
    else await afterFailure(out);
  }

  async function removeSchedule(s: ScheduleView): Promise<void> {
    const sure = await confirmDialog({
      title: "Remove this schedule?",
      text: `${s.name ? `“${s.name}”: ` : ""}${scheduleText(s)}. Runs it started stay in the history.`,
      confirm: "Remove",
      danger: true,
    });
    if (!sure) return;
    const out = await commit((fresh) => ({
      schedules: removeAt(schedulesOf(fresh), scheduleIndex(fresh, s.uuid)),
      triggers: triggersOf(fresh),
    }));
    if (out.ok) ctx.notify("Schedule removed", "success");
    else await afterFailure(out);
  }

  /** A time in the browser's zone, and how far it is from now ("in 5 min", "3 min ago"). */
  function timeOf(t: number, future: boolean, withHint = true): Child[] {
    const at = h(
      "time",
      { datetime: new Date(t).toISOString(), title: new Date(t).toLocaleString() },
      new Date(t).toLocaleString(undefined, NEXT_FORMAT),
    );
    if (!withHint) return [at];
    const hint = h("span", { class: "muted", "data-testid": "time-hint" });
    hints.push({ el: hint, t, future });
    setText(hint, ` (${future ? untilText(t, ctx.now()) : relativeTime(t, ctx.now())})`);
    return [at, hint];
  }

  function scheduleItem(s: ScheduleView, i: number): HTMLElement {
    const on = isOn(s.enable);
    const key = s.uuid ?? String(i);
    const toggle = h("input", {
      type: "checkbox",
      checked: on,
      "data-focus-key": `schedule-enable-${key}`,
      "data-testid": "schedule-toggle",
      disabled: !mayUpdate,
      title: mayUpdate ? "" : "Your role may not change this pipeline",
      // Not disabled while saving: the focus stays on it, and the changes queue up in order.
      on: { change: (e) => void toggleSchedule(s, (e.currentTarget as HTMLInputElement).checked) },
    });
    const next =
      !on || !s.next_time
        ? h("span", { class: "muted" }, on ? "none" : "— (disabled)")
        : h("span", {}, timeOf(s.next_time, true));
    const missed = s.missed_count ?? 0;
    const label = s.name ? `“${s.name}”` : `${i + 1}`;
    return h(
      "li",
      {
        class: on ? "tp-item" : "tp-item off",
        "data-testid": `schedule-${i}`,
        "data-uuid": s.uuid ?? "",
        "data-enabled": String(on),
      },
      h(
        "div",
        { class: "tp-main" },
        h(
          "p",
          { class: "tp-title" },
          s.name ? h("strong", {}, s.name, " · ") : null,
          h("span", { "data-testid": "schedule-text" }, scheduleText(s)),
        ),
        h(
          "p",
          { class: "tp-facts small-text" },
          h("span", { "data-testid": "schedule-next" }, "Next: ", next),
          s.last_fire_time ? h("span", {}, "Last: ", timeOf(s.last_fire_time, false)) : null,
          missed > 0
            ? h(
                "span",
                { class: "warn-text", "data-testid": "schedule-missed" },
                `Missed ${missed} ${missed === 1 ? "tick" : "ticks"} while no server ran`,
                s.last_missed_time ? [", the last ", ...timeOf(s.last_missed_time, false, false)] : null,
              )
            : null,
        ),
      ),
      h(
        "div",
        { class: "tp-actions" },
        h("label", { class: "check" }, toggle, "Enabled"),
        mayUpdate &&
          h(
            "button",
            {
              type: "button",
              class: "btn small",
              "aria-label": `Edit schedule ${label}`,
              "data-focus-key": `schedule-edit-${key}`,
              "data-testid": "schedule-edit",
              on: { click: () => void editSchedule(s) },
            },
            "Edit",
          ),
        mayUpdate &&
          h(
            "button",
            {
              type: "button",
              class: "btn small ghost danger-text",
              "aria-label": `Remove schedule ${label}`,
              "data-testid": "schedule-remove",
              on: { click: () => void removeSchedule(s) },
            },
            "Remove",
          ),
      ),
    );
  }

  // ---- triggers ----------------------------------------------------------------------------------

  async function editTrigger(t?: TriggerEntry, index?: number): Promise<void> {
    const ok = await triggerDialog({
      title: t ? "Edit trigger" : "Add a trigger",
      ...(t ? { entry: t } : {}),
      save: (entry) =>
        commit((fresh) => {
          const list = triggersOf(fresh);
          const schedules = schedulesOf(fresh);
          if (!t || index === undefined)
            return { schedules, triggers: [...list, entry], at: { list: "triggers", index: list.length } };
          const i = triggerIndex(fresh, index, t);
          return { schedules, triggers: replaceAt(list, i, entry), at: { list: "triggers", index: i } };
        }),
    });
    if (ok) ctx.notify(t ? "Trigger saved" : "Trigger added", "success");
  }

  async function toggleEvent(
    t: TriggerEntry,
    index: number,
    type: (typeof EVENT_TYPES)[number],
    on: boolean,
  ) {
    const out = await commit((fresh) => {
      const i = triggerIndex(fresh, index, t, true);
      const now = triggersOf(fresh)[i]!;
      const changed = withEvents(now, { ...eventsOn(now), [type]: on });
      return {
        schedules: schedulesOf(fresh),
        triggers: replaceAt(triggersOf(fresh), i, changed),
        at: { list: "triggers", index: i },
      };
    });
    if (out.ok)
      ctx.notify(`${EVENT_LABELS[type]} events ${on ? "start" : "no longer start"} the pipeline`, "success");
    else await afterFailure(out);
  }

  async function removeTrigger(t: TriggerEntry, index: number): Promise<void> {
    const sure = await confirmDialog({
      title: "Remove this trigger?",
      text: `Code events of ${t.git_url ?? "its repository"} will no longer start this pipeline.`,
      confirm: "Remove",
      danger: true,
    });
    if (!sure) return;
    const out = await commit((fresh) => ({
      schedules: schedulesOf(fresh),
      triggers: removeAt(triggersOf(fresh), triggerIndex(fresh, index, t)),
    }));
    if (out.ok) ctx.notify("Trigger removed", "success");
    else await afterFailure(out);
  }

  /** "Branches: main, release/*" (the patterns as code), or "Branches: any". */
  const filterText = (what: string, list: readonly string[] | undefined): HTMLElement =>
    h(
      "span",
      {},
      `${what}: `,
      list && list.length > 0 ? h("span", { class: "mono" }, patternsText(list, "")) : "any",
    );

  function triggerItem(t: TriggerView, i: number): HTMLElement {
    const on = eventsOn(t);
    const any = EVENT_TYPES.some((e) => on[e]);
    const repo = t.git_url ?? "(no repository)";
    const events = EVENT_TYPES.map((type) =>
      h(
        "label",
        { class: "check" },
        h("input", {
          type: "checkbox",
          checked: on[type],
          "data-focus-key": `trigger-${i}-${type}`,
          "data-testid": `trigger-event-${type}`,
          on: { change: (e) => void toggleEvent(t, i, type, (e.currentTarget as HTMLInputElement).checked) },
        }),
        EVENT_LABELS[type],
      ),
    );
    return h(
      "li",
      { class: any ? "tp-item" : "tp-item off", "data-testid": `trigger-${i}` },
      h(
        "div",
        { class: "tp-main" },
        h(
          "p",
          { class: "tp-title" },
          h("code", { class: "repo", "data-testid": "trigger-repo" }, repo),
          t.git_type ? h("span", { class: "badge" }, t.git_type) : null,
        ),
        h(
          "fieldset",
          { class: "tp-events" },
          h("legend", { class: "visually-hidden" }, `Events that start the pipeline from ${repo}`),
          events,
        ),
        h(
          "p",
          { class: "tp-facts small-text", "data-testid": "trigger-filters" },
          filterText("Branches", t.branches),
          filterText("Tags", t.tags),
          filterText("Paths", t.paths),
          typeof t.poll_interval === "number"
            ? h("span", { "data-testid": "trigger-poll" }, `Polls every ${t.poll_interval} s`)
            : null,
          t.last_poll_time ? h("span", {}, "Last poll: ", timeOf(t.last_poll_time, false)) : null,
          typeof t.poll_interval === "number" && t.next_poll_time
            ? h("span", { "data-testid": "trigger-next-poll" }, "Next poll: ", timeOf(t.next_poll_time, true))
            : null,
        ),
        t.poll_error
          ? h(
              "p",
              { class: "danger-text small-text tp-error", "data-testid": "trigger-poll-error" },
              `The last poll failed: ${t.poll_error}`,
            )
          : null,
      ),
      h(
        "div",
        { class: "tp-actions" },
        mayUpdate &&
          h(
            "button",
            {
              type: "button",
              class: "btn small",
              "aria-label": `Edit trigger ${i + 1} (${repo})`,
              "data-focus-key": `trigger-edit-${i}`,
              "data-testid": "trigger-edit",
              on: { click: () => void editTrigger(t, i) },
            },
            "Edit",
          ),
        mayUpdate &&
          h(
            "button",
            {
              type: "button",
              class: "btn small ghost danger-text",
              "aria-label": `Remove trigger ${i + 1} (${repo})`,
              "data-testid": "trigger-remove",
              on: { click: () => void removeTrigger(t, i) },
            },
            "Remove",
          ),
      ),
    );
  }

  // ---- webhook -----------------------------------------------------------------------------------

  hookShow.addEventListener("click", async () => {
    if (!hookBox.hidden) {
      hookBox.hidden = true;
      hookBox.replaceChildren();
      hookShow.setAttribute("aria-expanded", "false");
      setText(hookShow, "Show webhook URL and secret");
      return;
    }
    hookShow.disabled = true;
    hookError.hidden = true;
    try {
      const w = await ctx.api.get<WebhookInfo>(paths.webhook(projectId, pipelineId));
      const url = h("input", {
        type: "text",
        id: "hook-url",
        readonly: true,
        value: w.callback_url,
        class: "mono",
        "data-testid": "webhook-url",
      });
      const secret = h("input", {
        type: "password",
        id: "hook-secret",
        readonly: true,
        value: w.security_token,
        class: "mono",
        autocomplete: "off",
        "data-testid": "webhook-secret",
      });
      const reveal = h(
        "button",
        { type: "button", class: "btn small", "aria-pressed": "false", "data-testid": "webhook-reveal" },
        "Show secret",
      );
      reveal.addEventListener("click", () => {
        const showing = secret.type === "text";
        secret.type = showing ? "password" : "text";
        reveal.setAttribute("aria-pressed", String(!showing));
      });
      hookBox.replaceChildren(
        h("div", { class: "field" }, h("label", { for: "hook-url" }, "Callback URL"), url),
        h(
          "div",
          { class: "field" },
          h("label", { for: "hook-secret" }, "Secret"),
          h("div", { class: "field-controls" }, secret, reveal),
          h(
            "small",
            { class: "muted" },
            "GitHub signs with it (X-Hub-Signature-256), GitLab and Gitee send it as their token; anyone who has it can start the project's pipelines.",
          ),
        ),
      );
      hookBox.hidden = false;
      hookShow.setAttribute("aria-expanded", "true");
      setText(hookShow, "Hide webhook");
    } catch (err) {
      hookError.hidden = false;
      hookError.textContent =
        err instanceof ApiError && err.status === 403
          ? `Your role may not see the webhook: it needs the right to change pipelines. (${err.message})`
          : errorText(err);
    } finally {
      hookShow.disabled = false;
    }
  });

  // ---- rendering ---------------------------------------------------------------------------------

  function show(d: PipelineDetail): void {
    detail = d;
    hints = [];
    addSchedule.disabled = false;
    addTrigger.disabled = false;
    addSchedule.hidden = !mayUpdate;
    addTrigger.hidden = !mayUpdate;
    // The webhook's URL and secret are for those who may change the pipeline (the server says so too).
    hookShow.hidden = !mayUpdate;
    hookNote.hidden = mayUpdate;
    const schedules = schedulesOf(d);
    const triggers = triggersOf(d);
    keepFocus(el, () => {
      scheduleList.replaceChildren(
        schedules.length === 0
          ? h(
              "p",
              { class: "muted", "data-testid": "no-schedules" },
              "No schedules: the pipeline never starts by itself on time.",
            )
          : h("ul", { class: "tp-list", "aria-label": "Schedules" }, schedules.map(scheduleItem)),
      );
      triggerList.replaceChildren(
        triggers.length === 0
          ? h(
              "p",
              { class: "muted", "data-testid": "no-triggers" },
              "No triggers: code events do not start this pipeline.",
            )
          : h("ul", { class: "tp-list", "aria-label": "Triggers" }, triggers.map(triggerItem)),
      );
    });
  }

  void rightsOf(ctx, [pipelineId]).then((m) => {
    mayUpdate = rightsFor(m, pipelineId).update;
    if (detail) show(detail);
  });

  addSchedule.addEventListener("click", () => void editSchedule());
  addTrigger.addEventListener("click", () => void editTrigger());

  /** Keeps the hints current, and reads the detail again once a shown next tick has passed. */
  const ticker = setInterval(() => {
    const now = ctx.now();
    for (const x of hints) setText(x.el, ` (${x.future ? untilText(x.t, now) : relativeTime(x.t, now)})`);
    const passed = detail
      ? schedulesOf(detail).some((s) => isOn(s.enable) && s.next_time && s.next_time + 2000 < now)
      : false;
    if (passed && !reloading && !document.querySelector("dialog[open]")) {
      reloading = true;
      void reload().finally(() => {
        reloading = false;
      });
    }
  }, TICK_MS);

  return {
    el,
    load: reload,
    dispose: () => clearInterval(ticker),
  };
}
