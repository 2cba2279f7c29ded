// Schedules and triggers read as people say them ("Mon–Fri 02:00 China Standard Time"), and the
// defaults the server applies when a field is absent, so the UI shows what will actually happen.

import type { ScheduleEntry, TriggerEntry, TriggerEventType } from "./types.js";

/** Days in the order a week is read here (Monday first); the API counts 1 = Sunday … 7 = Saturday. */
export const WEEK: readonly { readonly day: number; readonly short: string; readonly long: string }[] = [
  { day: 2, short: "Mon", long: "Monday" },
  { day: 3, short: "Tue", long: "Tuesday" },
  { day: 4, short: "Wed", long: "Wednesday" },
  { day: 5, short: "Thu", long: "Thursday" },
  { day: 6, short: "Fri", long: "Friday" },
  { day: 7, short: "Sat", long: "Saturday" },
  { day: 1, short: "Sun", long: "Sunday" },
];

/** The zone a schedule without `time_zone` runs in (pipeline/schedules.ts DEFAULT_TIME_ZONE). */
export const DEFAULT_ZONE = "UTC";

export type ScheduleType = NonNullable<ScheduleEntry["type"]>;

/** The schedule's kind, inferred from its fields when `type` is absent, as the server does. */
export function scheduleType(s: ScheduleEntry): ScheduleType {
  if (s.type === "fixed" || s.type === "periodic" || s.type === "cron") return s.type;
  if (s.cron !== undefined) return "cron";
  if (s.interval_time !== undefined) return "periodic";
  return "fixed";
}

/** `enable` as the server reads it: absent means on, and "false" is a string CodeArts sends. */
export function isOn(v: unknown): boolean {
  return v === undefined || v === null || v === true || v === "true";
}

/** "Mon–Fri", "Sat, Sun", "Mon, Wed, Fri", "Every day": runs of three or more days as ranges. */
export function daysText(days: readonly number[] | undefined): string {
  const set = new Set(days ?? []);
  if (set.size === 0) return "No day";
  if (WEEK.every((d) => set.has(d.day))) return "Every day";
  const parts: string[] = [];
  let run: (typeof WEEK)[number][] = [];
  const flush = (): void => {
    if (run.length >= 3) parts.push(`${run[0]!.short}–${run.at(-1)!.short}`);
    else parts.push(...run.map((d) => d.short));
    run = [];
  };
  for (const d of WEEK) {
    if (set.has(d.day)) run.push(d);
    else flush();
  }
  flush();
  return parts.join(", ");
}

const UNIT_TEXT: Readonly<Record<string, string>> = { s: "s", m: "min", min: "min", h: "h" };

/** What a schedule does, in one line: "Mon–Fri every 3600 s 09:00–18:00 GMT Standard Time". */
export function scheduleText(s: ScheduleEntry): string {
  const zone = s.time_zone || DEFAULT_ZONE;
  const type = scheduleType(s);
  if (type === "cron") return `cron ${s.cron ?? "?"} ${zone}`;
  const days = daysText(s.days_of_week);
  if (type === "fixed") return `${days} ${s.start_time ?? "?"} ${zone}`;
  const unit = UNIT_TEXT[s.interval_unit ?? "s"] ?? s.interval_unit;
  return `${days} every ${s.interval_time ?? "?"} ${unit} ${s.start_time ?? "?"}–${s.end_time ?? "?"} ${zone}`;
}

export const EVENT_TYPES: readonly TriggerEventType[] = ["push", "tag_push", "merge_request"];

export const EVENT_LABELS: Readonly<Record<TriggerEventType, string>> = {
  push: "Push",
  tag_push: "Tag push",
  merge_request: "Merge request",
};

/** Which events start the pipeline: without `events`, push and tag push (pipeline/webhooks.ts). */
export function eventsOn(t: TriggerEntry): Record<TriggerEventType, boolean> {
  if (!Array.isArray(t.events)) return { push: true, tag_push: true, merge_request: false };
  const on = (type: TriggerEventType): boolean => t.events!.some((e) => e.type === type && isOn(e.enable));
  return { push: on("push"), tag_push: on("tag_push"), merge_request: on("merge_request") };
}

/** The trigger with each of our three events listed and set as given; other entries kept. */
export function withEvents(t: TriggerEntry, on: Readonly<Record<TriggerEventType, boolean>>): TriggerEntry {
  const others = Array.isArray(t.events)
    ? t.events.filter((e) => !(EVENT_TYPES as readonly string[]).includes(e.type))
    : [];
  return { ...t, events: [...EVENT_TYPES.map((type) => ({ type, enable: on[type] })), ...others] };
}

/** Glob patterns as typed: separated by commas or spaces, except the commas of a `{a,b}` group. */
export function splitPatterns(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "{") depth++;
    if (ch === "}") depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === "," || /\s/.test(ch))) {
      if (cur !== "") out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  if (cur !== "") out.push(cur);
  return out;
}

/** A filter's patterns for reading; none means any. */
export function patternsText(list: readonly string[] | undefined, none: string): string {
  return list && list.length > 0 ? list.join(", ") : none;
}
