// The API answers the UI reads: the server's wire contract (src/wire/types.ts, types only), and
// the status sets it tests them against (src/pipeline/vocabulary.ts).

export {
  TERMINAL_NODE_STATUSES as STEP_DONE,
  TERMINAL_RUN_STATUSES as TERMINAL,
} from "../../src/pipeline/vocabulary.js";
export type {
  BatchResultItem as BatchStartResult,
  JobRun,
  PipelineDetail,
  PipelineList,
  PipelineListItem as PipelineItem,
  ProjectRunList,
  RunDetail,
  RunList,
  RunStarted,
  RunSummary,
  StageRun,
  StageStatus,
  StepRun,
} from "../../src/wire/types.js";

import type { BatchRunAnswer } from "../../src/wire/types.js";

export type BatchStart = BatchRunAnswer["result"][number];

/** A project as GET /admin/v1/projects lists it. */
export interface Project {
  readonly project_id: string;
  readonly name: string;
}

/**
 * A pipeline's schedule as the update body takes it (spec §5.3; docs/definition.md). The API
 * types schedules and triggers as free-form entries: these are the fields the UI reads and
 * writes; an entry keeps any other field it had.
 */
export interface ScheduleEntry {
  readonly uuid?: string;
  readonly type?: "fixed" | "periodic" | "cron";
  readonly name?: string;
  /** 1 = Sunday … 7 = Saturday. */
  readonly days_of_week?: readonly number[];
  readonly start_time?: string;
  readonly end_time?: string;
  readonly interval_time?: string | number;
  readonly interval_unit?: string;
  readonly time_zone?: string;
  readonly cron?: string;
  readonly enable?: boolean | string;
  readonly [other: string]: unknown;
}

/** The read-only fields the pipeline detail adds to each schedule; never sent back. */
export const SCHEDULE_VIEW_FIELDS = [
  "next_time",
  "last_fire_time",
  "missed_count",
  "last_missed_time",
] as const;

/** A schedule as the pipeline detail shows it: where it stands in time (epoch ms). */
export interface ScheduleView extends ScheduleEntry {
  readonly next_time?: number | null;
  readonly last_fire_time?: number | null;
  readonly missed_count?: number;
  readonly last_missed_time?: number | null;
}

export type TriggerEventType = "push" | "tag_push" | "merge_request";

/** The read-only fields the pipeline detail adds to a trigger that polls; never sent back. */
export const TRIGGER_VIEW_FIELDS = ["last_poll_time", "next_poll_time", "poll_error"] as const;

export interface TriggerEntry {
  readonly git_url?: string;
  readonly git_type?: string;
  readonly events?: readonly { readonly type: string; readonly enable?: boolean | string }[];
  readonly branches?: readonly string[];
  readonly tags?: readonly string[];
  readonly paths?: readonly string[];
  /** Seconds between polls of the repository, when the trigger polls. */
  readonly poll_interval?: number;
  readonly [other: string]: unknown;
}

/** A trigger as the pipeline detail shows it: a polled repository's state (epoch ms). */
export interface TriggerView extends TriggerEntry {
  readonly last_poll_time?: number | null;
  readonly next_poll_time?: number | null;
  /** Why the last poll failed. */
  readonly poll_error?: string | null;
}

/**
 * One artifact as GET …/pipeline-runs/{run}/artifacts lists it (ShowPipelineArtifacts): a tar
 * archive of the files a job kept. The fields the UI reads; `job_identifier` and `create_time`
 * are Pipewright's own.
 */
export interface Artifact {
  readonly name: string;
  readonly job_id: string;
  readonly job_identifier?: string;
  /** Bytes, as a decimal string. */
  readonly file_size: string;
  readonly hash_code: readonly { readonly hash_type: string; readonly hash_value: string }[];
  readonly artifact_uri: string;
  readonly create_time?: number;
}

/** GET …/pipelines/{id}/webhook. */
export interface WebhookInfo {
  readonly callback_url: string;
  readonly security_token: string;
}

/** A pipeline tag as GET …/pipeline-tag/list lists it (a bare array of these). */
export interface PipelineTag {
  readonly tag_id: string;
  readonly name: string;
  /** `#rrggbb`. */
  readonly color: string;
  readonly project_id: string;
  readonly project_name: string;
}
