// The forms that add or edit one schedule or one trigger, in a modal. The server validates: its
// error (naming the field, `schedules[0].time_zone: …`) is shown beside the form and at the field,
// and the dialog stays open with everything the user typed.

import { POLL_INTERVAL } from "../../src/pipeline/polling.js";
import { modal } from "./dialogs.js";
import { type Child, h } from "./dom.js";
import { scheduleEntry, triggerEntry } from "./pipeline-update.js";
import {
  DEFAULT_ZONE,
  EVENT_LABELS,
  EVENT_TYPES,
  eventsOn,
  isOn,
  type ScheduleType,
  scheduleType,
  splitPatterns,
  WEEK,
  withEvents,
} from "./schedule-text.js";
import type { ScheduleEntry, TriggerEntry, TriggerEventType } from "./types.js";

/** What saving answered: done, or why not (and the form field it names, when it names one). */
export type SaveOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string; readonly code?: string; readonly field?: string };

export type Save<E> = (entry: E) => Promise<SaveOutcome>;

interface Field {
  readonly row: HTMLElement;
  /** Where the keyboard goes when the field is named by an error. */
  readonly focus: HTMLElement;
  /** The controls that take aria-invalid (a group's check boxes, a text input). */
  readonly controls: readonly HTMLElement[];
  readonly message: HTMLElement;
}

/** One labelled field: label, control, help text and a place for its error. */
function field(id: string, label: string, control: HTMLElement, help?: string, extra?: Child): Field {
  const message = h("p", { id: `${id}-error`, class: "field-error", hidden: true });
  const helpEl = help ? h("small", { id: `${id}-help`, class: "muted" }, help) : null;
  control.setAttribute("aria-describedby", [helpEl ? `${id}-help` : "", `${id}-error`].join(" ").trim());
  const row = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("div", { class: "field-controls" }, control, extra),
    helpEl,
    message,
  );
  return { row, focus: control, controls: [control], message };
}

/** A group of check boxes under a legend (days, events). */
function checkGroup(
  id: string,
  legend: string,
  boxes: readonly { readonly box: HTMLInputElement; readonly label: Child }[],
  help?: string,
): Field {
  const message = h("p", { id: `${id}-error`, class: "field-error", hidden: true });
  const helpEl = help ? h("small", { id: `${id}-help`, class: "muted" }, help) : null;
  const row = h(
    "fieldset",
    {
      class: "check-group",
      "aria-describedby": [helpEl ? `${id}-help` : "", `${id}-error`].join(" ").trim(),
    },
    h("legend", {}, legend),
    h(
      "div",
      { class: "check-row" },
      boxes.map((b) => h("label", { class: "check" }, b.box, b.label)),
    ),
    helpEl,
    message,
  );
  return { row, focus: boxes[0]!.box, controls: boxes.map((b) => b.box), message };
}

/**
 * The form's error handling: one alert beside the actions with the server's words, and the
 * field it names marked and described.
 */
function formErrors(fields: Readonly<Record<string, Field>>) {
  const box = h("div", { class: "form-error", role: "alert", hidden: true, "data-testid": "form-error" });
  function clear(): void {
    box.hidden = true;
    box.replaceChildren();
    for (const f of Object.values(fields)) {
      f.message.hidden = true;
      f.message.textContent = "";
      for (const c of f.controls) c.removeAttribute("aria-invalid");
    }
  }
  function show(message: string, opts: { code?: string; field?: string; sent: boolean }): void {
    clear();
    box.hidden = false;
    box.append(
      h("p", { "data-testid": "form-error-message" }, message),
      h(
        "p",
        { class: "muted small-text" },
        !opts.sent
          ? "Nothing was sent."
          : opts.code
            ? `The server refused it (${opts.code}); nothing was saved.`
            : "Nothing was saved.",
      ),
    );
    const f = opts.field ? fields[opts.field] : undefined;
    if (f) {
      // The field's own message without the path, which the alert above already names.
      f.message.hidden = false;
      f.message.textContent = message.replace(/^[\w.[\]]+: /, "");
      for (const c of f.controls) c.setAttribute("aria-invalid", "true");
      f.focus.focus();
    }
  }
  return { box, clear, show };
}

function actions(
  close: () => void,
  submitText: string,
  testid: string,
): {
  readonly row: HTMLElement;
  readonly submit: HTMLButtonElement;
} {
  const submit = h("button", { type: "submit", class: "btn primary", "data-testid": testid }, submitText);
  const row = h(
    "div",
    { class: "modal-actions" },
    h("button", { type: "button", class: "btn", on: { click: close } }, "Cancel"),
    submit,
  );
  return { row, submit };
}

/** What the form itself finds wrong before anything is sent. */
class LocalProblem {
  constructor(
    readonly message: string,
    readonly field: string,
  ) {}
}

/** Submits through save; closes on success, shows the refusal otherwise. */
function wire<E>(
  form: HTMLFormElement,
  submit: HTMLButtonElement,
  errors: ReturnType<typeof formErrors>,
  build: () => E | LocalProblem,
  save: Save<E>,
  close: (ok: boolean) => void,
): void {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const entry = build();
    if (entry instanceof LocalProblem) {
      errors.show(entry.message, { field: entry.field, sent: false });
      return;
    }
    submit.disabled = true;
    errors.clear();
    void save(entry).then((out) => {
      submit.disabled = false;
      if (out.ok) close(true);
      else errors.show(out.message, { ...out, sent: true });
    });
  });
}

// ---- schedules ------------------------------------------------------------------------------------

/** The fields the schedule form owns; an entry's other fields are kept as they were. */
const SCHEDULE_FIELDS = [
  "type",
  "name",
  "days_of_week",
  "start_time",
  "end_time",
  "interval_time",
  "interval_unit",
  "time_zone",
  "cron",
  "enable",
] as const;

const TYPE_LABELS: Readonly<Record<ScheduleType, string>> = {
  fixed: "At a time",
  periodic: "Every interval",
  cron: "Cron",
};

/** Zone names the browser knows, offered as the user types (Windows names work too). */
function zoneList(id: string, current: string | undefined): HTMLDataListElement {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    // An older browser: the field is free text all the same.
  }
  const all = [...new Set([DEFAULT_ZONE, ...(current ? [current] : []), ...zones])];
  return h(
    "datalist",
    { id },
    all.map((z) => h("option", { value: z })),
  );
}

function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || DEFAULT_ZONE;
  } catch {
    return DEFAULT_ZONE;
  }
}

/** Opens the schedule form; answers whether it was saved. */
export async function scheduleDialog(opts: {
  readonly title: string;
  readonly entry?: ScheduleEntry;
  readonly save: Save<ScheduleEntry>;
}): Promise<boolean> {
  const given = opts.entry;
  const saved = await modal<boolean>((close) => {
    let type: ScheduleType = given ? scheduleType(given) : "fixed";
    const typeRadios = (["fixed", "periodic", "cron"] as const).map((t) => {
      const input = h("input", {
        type: "radio",
        name: "schedule-type",
        value: t,
        checked: t === type,
        "data-testid": `schedule-type-${t}`,
        on: {
          change: () => {
            type = t;
            showFor();
          },
        },
      });
      return { input, label: h("label", { class: "seg" }, input, h("span", {}, TYPE_LABELS[t])) };
    });
    const typeGroup = h(
      "fieldset",
      { class: "segmented" },
      h("legend", { class: "visually-hidden" }, "Kind of schedule"),
      typeRadios.map((r) => r.label),
    );

    const name = h("input", {
      type: "text",
      id: "sched-name",
      value: given?.name ?? "",
      maxlength: "128",
      autocomplete: "off",
      "data-testid": "schedule-name",
    });
    const givenDays = new Set(given?.days_of_week ?? (given ? [] : [2, 3, 4, 5, 6]));
    const dayBoxes = WEEK.map((d) => ({
      d,
      box: h("input", {
        type: "checkbox",
        value: String(d.day),
        checked: givenDays.has(d.day),
        "aria-label": d.long,
        "data-testid": `schedule-day-${d.day}`,
      }),
    }));
    const start = h("input", {
      type: "time",
      id: "sched-start",
      value: given?.start_time ?? (given ? "" : "02:00"),
      "data-testid": "schedule-start",
    });
    const end = h("input", {
      type: "time",
      id: "sched-end",
      value: given?.end_time ?? "",
      "data-testid": "schedule-end",
    });
    const interval = h("input", {
      type: "number",
      id: "sched-interval",
      min: "1",
      step: "1",
      inputmode: "numeric",
      value: given?.interval_time !== undefined ? String(given.interval_time) : "",
      "data-testid": "schedule-interval",
    });
    const givenUnit = given?.interval_unit === "m" ? "min" : (given?.interval_unit ?? "s");
    const unit = h(
      "select",
      { id: "sched-unit", "aria-label": "Unit of the interval", "data-testid": "schedule-unit" },
      (
        [
          ["s", "seconds"],
          ["min", "minutes"],
          ["h", "hours"],
        ] as const
      ).map(([v, t]) => h("option", { value: v, selected: v === givenUnit }, t)),
    );
    const cron = h("input", {
      type: "text",
      id: "sched-cron",
      value: given?.cron ?? "",
      placeholder: "*/15 * * * *",
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      class: "mono",
      "data-testid": "schedule-cron",
    });
    const zone = h("input", {
      type: "text",
      id: "sched-zone",
      value: given ? (given.time_zone ?? "") : browserZone(),
      placeholder: DEFAULT_ZONE,
      list: "sched-zones",
      autocomplete: "off",
      spellcheck: "false",
      "data-testid": "schedule-zone",
    });
    const enable = h("input", {
      type: "checkbox",
      id: "sched-enable",
      checked: given ? isOn(given.enable) : true,
      "data-testid": "schedule-enable",
    });

    const startField = field("sched-start", "At", start);
    const startLabel = startField.row.querySelector("label")!;
    const fields: Record<string, Field> = {
      name: field("sched-name", "Name (optional)", name),
      days_of_week: checkGroup(
        "sched-days",
        "Days",
        dayBoxes.map((b) => ({ box: b.box, label: b.d.short })),
      ),
      start_time: startField,
      end_time: field("sched-end", "Until", end, "The last tick of the day is at this time at the latest."),
      interval_time: field("sched-interval", "Every", interval, "From 60 s to a day.", unit),
      cron: field(
        "sched-cron",
        "Cron expression",
        cron,
        "Five fields: minute hour day-of-month month day-of-week.",
      ),
      time_zone: field(
        "sched-zone",
        "Time zone",
        zone,
        `A Windows name as CodeArts uses ("China Standard Time") or an IANA name ("Asia/Shanghai"). Empty: ${DEFAULT_ZONE}.`,
        zoneList("sched-zones", given?.time_zone),
      ),
    };
    // A unit error belongs to the interval's field.
    fields.interval_unit = fields.interval_time!;
    const errors = formErrors(fields);

    function showFor(): void {
      fields.days_of_week!.row.hidden = type === "cron";
      fields.start_time!.row.hidden = type === "cron";
      startLabel.textContent = type === "periodic" ? "From" : "At";
      fields.end_time!.row.hidden = type !== "periodic";
      fields.interval_time!.row.hidden = type !== "periodic";
      fields.cron!.row.hidden = type !== "cron";
    }
    showFor();

    function build(): ScheduleEntry {
      const rest: Record<string, unknown> = given ? { ...scheduleEntry(given) } : {};
      for (const k of SCHEDULE_FIELDS) delete rest[k];
      const out: Record<string, unknown> = { ...rest, type };
      if (name.value.trim() !== "") out.name = name.value.trim();
      if (type === "cron") {
        out.cron = cron.value.trim();
      } else {
        out.days_of_week = dayBoxes
          .filter((b) => b.box.checked)
          .map((b) => b.d.day)
          .sort((a, b) => a - b);
        out.start_time = start.value;
        if (type === "periodic") {
          out.end_time = end.value;
          // CodeArts sends the interval as text.
          out.interval_time = interval.value.trim();
          out.interval_unit = unit.value;
        }
      }
      if (zone.value.trim() !== "") out.time_zone = zone.value.trim();
      out.enable = enable.checked;
      return out as ScheduleEntry;
    }

    const act = actions(() => close(false), given ? "Save schedule" : "Add schedule", "schedule-save");
    const form = h(
      "form",
      { class: "entry-form", novalidate: true },
      typeGroup,
      Object.entries(fields)
        .filter(([k]) => k !== "interval_unit")
        .map(([, f]) => f.row),
      h("label", { class: "check" }, enable, "Enabled"),
      errors.box,
      act.row,
    );
    wire(form, act.submit, errors, build, opts.save, close);
    return { title: opts.title, testid: "schedule-dialog", body: [form] };
  });
  return saved === true;
}

// ---- triggers ----------------------------------------------------------------------------------------

const { min: POLL_MIN, max: POLL_MAX } = POLL_INTERVAL;
const POLL_PROBLEM = `poll_interval: must be a whole number of seconds from ${POLL_MIN} to ${POLL_MAX}`;
const TRIGGER_FIELDS = [
  "git_url",
  "git_type",
  "events",
  "branches",
  "tags",
  "paths",
  "poll_interval",
] as const;
const FORGES = ["github", "gitlab", "gitee", "codehub", "gitcode"] as const;

/** Opens the trigger form; answers whether it was saved. */
export async function triggerDialog(opts: {
  readonly title: string;
  readonly entry?: TriggerEntry;
  readonly save: Save<TriggerEntry>;
}): Promise<boolean> {
  const given = opts.entry;
  const saved = await modal<boolean>((close) => {
    const url = h("input", {
      type: "text",
      id: "trg-url",
      value: given?.git_url ?? "",
      placeholder: "https://github.com/acme/app.git",
      inputmode: "url",
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      "data-testid": "trigger-url",
    });
    const forges: string[] = [...FORGES];
    if (given?.git_type && !forges.includes(given.git_type)) forges.push(given.git_type);
    const forge = h(
      "select",
      { id: "trg-type", "data-testid": "trigger-type" },
      h("option", { value: "", selected: !given?.git_type }, "Not set"),
      forges.map((f) => h("option", { value: f, selected: f === given?.git_type }, f)),
    );
    const on = given ? eventsOn(given) : { push: true, tag_push: true, merge_request: false };
    const eventBoxes = EVENT_TYPES.map((t) => ({
      t,
      box: h("input", { type: "checkbox", checked: on[t], "data-testid": `trigger-event-${t}` }),
    }));
    const patterns = (id: string, v: readonly string[] | undefined, testid: string) =>
      h("input", {
        type: "text",
        id,
        value: (v ?? []).join(", "),
        spellcheck: "false",
        autocapitalize: "off",
        autocomplete: "off",
        class: "mono",
        "data-testid": testid,
      });
    const branches = patterns("trg-branches", given?.branches, "trigger-branches");
    const tags = patterns("trg-tags", given?.tags, "trigger-tags");
    const paths = patterns("trg-paths", given?.paths, "trigger-paths");
    const poll = h("input", {
      type: "number",
      id: "trg-poll",
      min: String(POLL_MIN),
      max: String(POLL_MAX),
      step: "1",
      inputmode: "numeric",
      value: given?.poll_interval !== undefined ? String(given.poll_interval) : "",
      "data-testid": "trigger-poll",
    });
    const fields: Record<string, Field> = {
      git_url: field(
        "trg-url",
        "Repository",
        url,
        "Its clone, SSH or web URL: all three name the same repository.",
      ),
      git_type: field("trg-type", "Forge", forge),
      events: checkGroup(
        "trg-events",
        "Events",
        eventBoxes.map((b) => ({ box: b.box, label: EVENT_LABELS[b.t] })),
      ),
      branches: field(
        "trg-branches",
        "Branches",
        branches,
        "Glob patterns (main, release/*), separated by commas. Empty: every branch. A merge request is matched by its target branch.",
      ),
      tags: field("trg-tags", "Tags", tags, "Glob patterns (v*). Empty: every tag."),
      paths: field(
        "trg-paths",
        "Paths",
        paths,
        "A push starts the pipeline when a changed file matches one (src/**). Empty: any change.",
      ),
      poll_interval: field(
        "trg-poll",
        "Poll interval in seconds (optional)",
        poll,
        `For a repository that cannot deliver webhooks: how often the server lists its branches and tags (${POLL_MIN} s to a day). Empty: not polled.`,
      ),
    };
    const errors = formErrors(fields);

    function build(): TriggerEntry | LocalProblem {
      const rest: Record<string, unknown> = given ? { ...triggerEntry(given) } : {};
      for (const k of TRIGGER_FIELDS) delete rest[k];
      const gitUrl = url.value.trim();
      if (gitUrl === "") return new LocalProblem("git_url: the repository URL is required", "git_url");
      const out: Record<string, unknown> = { git_url: gitUrl };
      if (forge.value !== "") out.git_type = forge.value;
      const picked = Object.fromEntries(eventBoxes.map((b) => [b.t, b.box.checked])) as Record<
        TriggerEventType,
        boolean
      >;
      out.events = withEvents(given ?? {}, picked).events;
      for (const [k, input] of [
        ["branches", branches],
        ["tags", tags],
        ["paths", paths],
      ] as const) {
        const list = splitPatterns(input.value);
        if (list.length > 0) out[k] = list;
      }
      if (poll.value.trim() !== "" || poll.validity.badInput) {
        const n = Number(poll.value);
        if (poll.validity.badInput || !Number.isInteger(n) || n < POLL_MIN || n > POLL_MAX)
          return new LocalProblem(POLL_PROBLEM, "poll_interval");
        out.poll_interval = n;
      }
      return { ...out, ...rest } as TriggerEntry;
    }

    const act = actions(() => close(false), given ? "Save trigger" : "Add trigger", "trigger-save");
    const form = h(
      "form",
      { class: "entry-form", novalidate: true },
      Object.values(fields).map((f) => f.row),
      errors.box,
      act.row,
    );
    wire(form, act.submit, errors, build, opts.save, close);
    return { title: opts.title, testid: "trigger-dialog", body: [form] };
  });
  return saved === true;
}
