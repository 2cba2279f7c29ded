// How pipelines look on the wire: CodeArts's pipeline detail (§4.16) and list items (§4.14),
// secret variable values masked.

import type { Variable } from "../pipeline/types.js";
import { SECRET_MASK } from "../pipeline/vocabulary.js";
import type { PipelineRecord, PollRecord, ScheduleRecord } from "../store/store.js";
import type { PipelineDetail, PipelineListItem } from "../wire/types.js";

export function maskVariables(vars: readonly Variable[]): Variable[] {
  return vars.map((v) =>
    v.is_secret
      ? {
          ...v,
          value: SECRET_MASK,
          latest_value: v.latest_value ? SECRET_MASK : "",
          limits: v.limits.map(() => SECRET_MASK),
        }
      : v,
  );
}

/**
 * A schedule entry as stored, with where it stands (our additions; CodeArts has no such fields):
 * its next tick, the last one fired, and how many passed unfired while no server ran.
 */
function scheduleView(raw: unknown, state: ScheduleRecord | undefined): unknown {
  return {
    ...(raw as Record<string, unknown>),
    next_time: state?.next_due ?? null,
    last_fire_time: state?.last_fired ?? null,
    missed_count: state?.missed ?? 0,
    last_missed_time: state?.last_missed ?? null,
  };
}

/**
 * A trigger entry as stored, with its repository's polling state when it polls (ours): when it
 * was last polled, when next, and why the last poll failed.
 */
function triggerView(raw: unknown, polls: readonly PollRecord[]): unknown {
  const t = raw as Record<string, unknown>;
  if (t.poll_interval === undefined || t.poll_interval === null) return t;
  const poll = polls.find((r) => r.git_url === t.git_url);
  return {
    ...t,
    last_poll_time: poll?.last_poll ?? null,
    next_poll_time: poll?.next_due ?? null,
    poll_error: poll?.last_error ?? null,
  };
}

/** View fields the detail adds to trigger entries, dropped when a trigger comes back in an update. */
export const TRIGGER_VIEW_FIELDS = ["last_poll_time", "next_poll_time", "poll_error"] as const;

export function pipelineDetailView(
  p: PipelineRecord,
  schedules: readonly ScheduleRecord[] = [],
  polls: readonly PollRecord[] = [],
): PipelineDetail {
  const stateOf = new Map(schedules.map((s) => [s.uuid, s]));
  const cc = p.spec.concurrency_control;
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    manifest_version: p.manifest_version,
    region: "local",
    domain_id: "",
    project_id: p.project_id,
    component_id: p.spec.component_id,
    is_publish: p.is_publish,
    creator_id: p.creator_id,
    creator_name: p.creator_name,
    updater_id: p.updater_id,
    create_time: p.create_time,
    update_time: p.update_time,
    is_collect: false,
    sources: p.spec.sources,
    variables: maskVariables(p.spec.variables).map((v) => ({ ...v, pipeline_id: p.id })),
    schedules: p.spec.schedules.map((raw) =>
      scheduleView(raw, stateOf.get((raw as { uuid?: string }).uuid ?? "")),
    ),
    triggers: p.spec.triggers.map((t) => triggerView(t, polls)),
    group_id: p.spec.group_id,
    definition: p.definition,
    security_level: null,
    banned: p.banned,
    // Stored before `supersede` existed: off.
    concurrency_control: cc && { ...cc, supersede: cc.supersede ?? false, pipeline_id: p.id },
  };
}

export function pipelineListItemView(
  p: PipelineRecord,
  latestRun: PipelineListItem["latest_run"] = null,
): PipelineListItem {
  return {
    pipeline_id: p.id,
    name: p.name,
    project_id: p.project_id,
    project_name: p.spec.project_name,
    component_id: p.spec.component_id,
    is_publish: p.is_publish,
    is_collect: false,
    manifest_version: p.manifest_version,
    create_time: p.create_time,
    update_time: p.update_time,
    banned: p.banned,
    latest_run: latestRun,
    convert_sign: 0,
    security_level: null,
  };
}
