// The update body (a full replace) made from a pipeline's detail: what the detail shows for the
// server's own bookkeeping stays out of it, so nothing read-only is ever sent back.

import {
  type PipelineDetail,
  SCHEDULE_VIEW_FIELDS,
  type ScheduleEntry,
  type ScheduleView,
  TRIGGER_VIEW_FIELDS,
  type TriggerEntry,
  type TriggerView,
} from "./types.js";

/** A schedule as the update takes it: the detail's view fields left out (its uuid is kept). */
export function scheduleEntry(s: ScheduleView | ScheduleEntry): ScheduleEntry {
  const out: Record<string, unknown> = { ...s };
  for (const k of SCHEDULE_VIEW_FIELDS) delete out[k];
  return out as ScheduleEntry;
}

/** A trigger as the update takes it: the polling state the detail shows left out. */
export function triggerEntry(t: TriggerView | TriggerEntry): TriggerEntry {
  const out: Record<string, unknown> = { ...t };
  for (const k of TRIGGER_VIEW_FIELDS) delete out[k];
  return out as TriggerEntry;
}

/** The detail's schedules and triggers, read as the entries they are. */
export function schedulesOf(d: PipelineDetail): ScheduleView[] {
  return d.schedules.filter((s): s is ScheduleView => typeof s === "object" && s !== null);
}

export function triggersOf(d: PipelineDetail): TriggerView[] {
  return d.triggers.filter((t): t is TriggerView => typeof t === "object" && t !== null);
}

/**
 * The PUT body that keeps the pipeline as the detail shows it, with these schedules and triggers.
 * Secret variables come back masked: the server keeps their stored values for the mask.
 */
export function updateBody(
  d: PipelineDetail,
  change: { schedules: readonly ScheduleEntry[]; triggers: readonly TriggerEntry[] },
): Record<string, unknown> {
  return {
    name: d.name,
    description: d.description,
    is_publish: d.is_publish,
    manifest_version: d.manifest_version,
    definition: d.definition,
    sources: d.sources,
    variables: d.variables,
    concurrency_control: d.concurrency_control,
    group_id: d.group_id,
    schedules: change.schedules.map(scheduleEntry),
    triggers: change.triggers.map(triggerEntry),
  };
}
