// How the CLI describes what starts pipelines by themselves: schedules and triggers (pipeline
// show), the code event behind a run (status) and the webhook deliveries of a project. Pure
// functions over the API's answers, which type schedules, triggers and sources as free-form JSON,
// so every field is read defensively.

import type { WebhookDelivery } from "./api.js";
import { formatTime, type Style } from "./format.js";

/** A schedule entry as the pipeline detail answers it (docs/definition.md, "Schedules and triggers"). */
export interface ScheduleView {
  readonly type?: unknown;
  readonly name?: unknown;
  readonly days_of_week?: unknown;
  readonly start_time?: unknown;
  readonly end_time?: unknown;
  readonly interval_time?: unknown;
  readonly interval_unit?: unknown;
  readonly time_zone?: unknown;
  readonly cron?: unknown;
  readonly enable?: unknown;
  readonly next_time?: unknown;
  readonly last_fire_time?: unknown;
  readonly missed_count?: unknown;
  readonly last_missed_time?: unknown;
}

export interface TriggerView {
  readonly git_url?: unknown;
  readonly git_type?: unknown;
  readonly events?: unknown;
  readonly branches?: unknown;
  readonly tags?: unknown;
  readonly paths?: unknown;
  /** Seconds between polls of the repository, for forges that cannot deliver. */
  readonly poll_interval?: unknown;
  /** The detail's view of a polling trigger: when it was last polled, and why that failed. */
  readonly last_poll_time?: unknown;
  readonly poll_error?: unknown;
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const epoch = (v: unknown): number | undefined => (typeof v === "number" && v > 0 ? v : undefined);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x !== "") : [];
/** The server's reading of `enable`: absent means on; the SDKs send it as a string. */
const enabled = (v: unknown): boolean => v === undefined || v === null || v === true || v === "true";

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

/**
 * CodeArts's days (1 = Sunday … 7 = Saturday) as a reader says them, the week from Monday: runs of
 * three or more days as a range (`Mon–Fri`), others listed (`Sat, Sun`); all seven `daily`.
 */
export function describeDays(days: readonly number[]): string {
  const valid = [...new Set(days.filter((d) => Number.isInteger(d) && d >= 1 && d <= 7))];
  if (valid.length === 7) return "daily";
  // Monday first: 2 (Mon) → 0 … 7 (Sat) → 5, 1 (Sun) → 6.
  const order = valid.map((d) => (d + 5) % 7).sort((a, b) => a - b);
  const name = (i: number): string => DAY_NAMES[(i + 1) % 7]!;
  const parts: string[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1] === order[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${name(order[i]!)}–${name(order[j]!)}`);
    else for (let k = i; k <= j; k++) parts.push(name(order[k]!));
    i = j + 1;
  }
  return parts.join(", ");
}

const UNITS: Readonly<Record<string, string>> = { s: "s", m: "min", min: "min", h: "h" };

/** The kind the server reads an entry as when `type` is left out. */
function kindOf(s: ScheduleView): string {
  const t = text(s.type);
  if (t) return t;
  return s.cron !== undefined ? "cron" : s.interval_time !== undefined ? "periodic" : "fixed";
}

/**
 * When a schedule fires, in its own zone: `Mon–Fri 02:00 (China Standard Time)`,
 * `Mon–Fri every 3600 s 09:00–18:00 (GMT Standard Time)`, `cron 0 3 * * 1 (Asia/Singapore)`.
 */
export function describeSchedule(s: ScheduleView): string {
  const zone = `(${text(s.time_zone) ?? "UTC"})`;
  const kind = kindOf(s);
  if (kind === "cron") return `cron ${text(s.cron) ?? "?"} ${zone}`;
  const days = describeDays(Array.isArray(s.days_of_week) ? (s.days_of_week as number[]) : []);
  const start = text(s.start_time) ?? "?";
  if (kind === "periodic") {
    const amount = typeof s.interval_time === "number" ? String(s.interval_time) : text(s.interval_time);
    const unitName = text(s.interval_unit) ?? "s";
    const unit = UNITS[unitName] ?? unitName;
    return `${days} every ${amount ?? "?"} ${unit} ${start}–${text(s.end_time) ?? "?"} ${zone}`;
  }
  return `${days} ${start} ${zone}`;
}

/** How long until a moment, roughly: `under a minute`, `14 min`, `3 h 5 min`, `2 d 4 h`. */
export function formatSpan(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return "under a minute";
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/**
 * One line of `pipeline show`'s Schedules section: the name, when it fires, whether it is
 * disabled, its next tick (local time, and how far off), the last one fired and the ones missed.
 */
export function scheduleLine(s: ScheduleView, now: number, style: Style): string {
  const name = text(s.name);
  const parts = [`${name ? `${style.bold(name)}: ` : ""}${describeSchedule(s)}`];
  if (!enabled(s.enable)) parts.push(style.yellow("disabled"));
  else {
    const next = epoch(s.next_time);
    parts.push(
      next === undefined
        ? style.dim("no next tick")
        : `next ${formatTime(next)}${next > now ? style.dim(` (in ${formatSpan(next - now)})`) : ""}`,
    );
  }
  const last = epoch(s.last_fire_time);
  if (last !== undefined) parts.push(`last fired ${formatTime(last)}`);
  const missed = typeof s.missed_count === "number" ? s.missed_count : 0;
  if (missed > 0) {
    const lastMissed = epoch(s.last_missed_time);
    parts.push(style.yellow(`${missed} missed${lastMissed ? `, last ${formatTime(lastMissed)}` : ""}`));
  }
  return parts.join(" · ");
}

const EVENT_NAMES: Readonly<Record<string, string>> = {
  push: "push",
  tag_push: "tag push",
  merge_request: "merge request",
};

/** The events a trigger starts on, as the server reads them: without `events`, push and tag push. */
export function enabledEvents(t: TriggerView): string[] {
  if (!Array.isArray(t.events)) return ["push", "tag_push"];
  return t.events
    .filter((e): e is { type: string; enable?: unknown } => typeof e?.type === "string")
    .filter((e) => enabled(e.enable))
    .map((e) => e.type);
}

/**
 * `pipeline show`'s lines for one trigger: the repository and its enabled events, then (when
 * any) its branch, tag and path filters and how often the repository is polled (with the last
 * poll and its error).
 */
export function triggerLines(t: TriggerView, style: Style): string[] {
  const repo = text(t.git_url) ?? style.yellow("(no git_url: matches nothing)");
  const forge = text(t.git_type);
  const events = enabledEvents(t).map((e) => EVENT_NAMES[e] ?? e);
  const lines = [
    `${repo}${forge ? style.dim(` (${forge})`) : ""}: ${events.length ? events.join(", ") : style.yellow("no event enabled")}`,
  ];
  const filters = [
    ["branches", strings(t.branches)],
    ["tags", strings(t.tags)],
    ["paths", strings(t.paths)],
  ] as const;
  const extra = filters.filter(([, v]) => v.length > 0).map(([k, v]) => `${k} ${v.join(", ")}`);
  const poll = typeof t.poll_interval === "string" ? Number(t.poll_interval) : t.poll_interval;
  if (typeof poll === "number" && Number.isFinite(poll) && poll > 0) {
    extra.push(`polled every ${poll} s`);
    const last = epoch(t.last_poll_time);
    if (last !== undefined) extra.push(`last polled ${formatTime(last)}`);
    const error = text(t.poll_error);
    if (error) extra.push(style.yellow(`last poll failed: ${error}`));
  }
  if (extra.length > 0) lines.push(`  ${extra.join(" · ")}`);
  return lines;
}

/** `refs/heads/main` → `main`, `refs/tags/v1` → `v1`; `-` for none. */
export function shortRef(ref: string | null | undefined): string {
  if (!ref) return "-";
  return ref.replace(/^refs\/(heads|tags)\//, "");
}

/** A commit id as git abbreviates it (7 characters); `-` for none. */
export function shortCommit(id: string | null | undefined): string {
  return id ? id.slice(0, 7) : "-";
}

function firstLine(message: string, width = 72): string {
  const line = message.split(/\r?\n/, 1)[0]!.trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/**
 * What started a run, when a code event did: the `build_params` of the source a delivery filled
 * in (it carries `event_type`), as `Push to main at 1a2b3c4 by alice: fix login`. Undefined for
 * runs started otherwise (by hand, by a schedule).
 */
export function describeCodeEvent(sources: readonly unknown[] | undefined): string | undefined {
  const build = (sources ?? [])
    .map((s) => (s as { params?: { build_params?: unknown } } | null)?.params?.build_params)
    .find(
      (b): b is Record<string, unknown> =>
        typeof b === "object" && b !== null && text((b as Record<string, unknown>).event_type) !== undefined,
    );
  if (!build) return undefined;
  const event = text(build.event_type)!;
  const tag = text(build.tag);
  const branch = text(build.target_branch) ?? shortRef(text(build.ref));
  let what: string;
  if (event === "Push") what = `Push to ${branch}`;
  else if (event === "CreateTag") what = `Tag ${tag ?? shortRef(text(build.ref))}`;
  else if (event === "MR") {
    const id = typeof build.merge_id === "number" ? String(build.merge_id) : text(build.merge_id);
    const action = text(build.action);
    const from = text(build.source_branch);
    const into = text(build.merge_target_branch) ?? text(build.target_branch);
    what = [
      `Merge request${id ? ` !${id}` : ""}${action ? ` (${action})` : ""}`,
      from || into ? `${from ?? "?"} → ${into ?? "?"}` : "",
    ]
      .filter(Boolean)
      .join(" ");
  } else what = `${event}${tag ? ` ${tag}` : branch !== "-" ? ` ${branch}` : ""}`;
  const commit = text(build.commit_id);
  const author = text(build.author);
  const message = text(build.message);
  return `${what}${commit ? ` at ${shortCommit(commit)}` : ""}${author ? ` by ${author}` : ""}${message ? `: ${firstLine(message)}` : ""}`;
}

export function colorDeliveryStatus(style: Style, status: string): string {
  return status === "accepted"
    ? style.green(status)
    : status === "rejected"
      ? style.red(status)
      : style.dim(status);
}

/**
 * The last column of a delivery's row: the runs it started (`build#3, docs#7`) or why it started
 * none, with the pipelines it passed over. `runLabel` names a run (PIPELINE#N when known),
 * `pipelineName` a pipeline.
 */
export function deliveryOutcome(
  d: WebhookDelivery,
  runLabel: (pipelineId: string, runId: string) => string,
  pipelineName: (pipelineId: string) => string,
): string {
  const skipped = d.skipped.map((s) => `${pipelineName(s.pipeline_id)}: ${s.reason}`);
  if (d.pipeline_runs.length > 0) {
    const runs = d.pipeline_runs.map((r) => runLabel(r.pipeline_id, r.pipeline_run_id)).join(", ");
    return skipped.length ? `${runs} (not started: ${skipped.join("; ")})` : runs;
  }
  const reason = d.reason ?? (d.status === "accepted" ? "started no run" : "-");
  return skipped.length ? `${reason} (${skipped.join("; ")})` : reason;
}

/** A delivery's row of `pipewright deliveries`: TIME, FORGE, EVENT, REF, COMMIT, STATUS, RUNS / REASON. */
export function deliveryRow(d: WebhookDelivery, outcome: string, style: Style): string[] {
  return [
    formatTime(d.create_time),
    d.forge,
    d.event || "-",
    shortRef(d.ref),
    shortCommit(d.commit_id),
    colorDeliveryStatus(style, d.status),
    outcome,
  ];
}

export const DELIVERY_HEADERS = [
  "TIME",
  "FORGE",
  "EVENT",
  "REF",
  "COMMIT",
  "STATUS",
  "RUNS / REASON",
] as const;
