// The shapes of the API answers the UI reads (spec §4; only the fields it uses).

export type RunStatus =
  | "COMPLETED"
  | "RUNNING"
  | "FAILED"
  | "CANCELED"
  | "PAUSED"
  | "SUSPEND"
  | "IGNORED"
  | "QUEUED"
  | "INIT"
  | "SKIPPED"
  | "UNSELECTED"
  | "REDISPATCH"
  | "ASYNC_RUNNING"
  | "ASYNC_FAILED";

export const TERMINAL: ReadonlySet<string> = new Set(["COMPLETED", "FAILED", "CANCELED", "IGNORED"]);
export const STEP_DONE: ReadonlySet<string> = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "SKIPPED",
  "UNSELECTED",
  "IGNORED",
]);

export interface Project {
  readonly project_id: string;
  readonly name: string;
}

export interface PipelineItem {
  readonly pipeline_id: string;
  readonly name: string;
  readonly create_time: number;
  readonly update_time: number;
  readonly banned: boolean;
}

export interface PipelineList {
  readonly offset: number;
  readonly limit: number;
  readonly total: number;
  readonly pipelines: readonly PipelineItem[];
}

export interface StageStatus {
  readonly name: string;
  readonly sequence: number;
  readonly status: string;
}

export interface RunSummary {
  readonly pipeline_id: string;
  readonly pipeline_run_id: string;
  readonly executor_name: string;
  readonly stage_status_list: readonly StageStatus[];
  readonly status: string;
  readonly run_number: number;
  readonly trigger_type: string;
  readonly start_time: number;
  readonly end_time: number;
}

export interface RunList {
  readonly offset: number;
  readonly limit: number;
  readonly total: number;
  readonly pipeline_runs: readonly RunSummary[];
}

export interface StepRun {
  readonly id: string;
  readonly name: string;
  readonly task: string;
  readonly identifier: string;
  readonly sequence: number;
  readonly status: string;
  readonly message: string | null;
  readonly start_time: number;
  readonly end_time: number;
  readonly review_deadline?: number | null;
}

export interface JobRun {
  readonly id: string;
  readonly name: string;
  readonly identifier: string;
  readonly status: string;
  readonly message: string | null;
  readonly depends_on: readonly string[];
  readonly start_time: number;
  readonly end_time: number;
  readonly steps: readonly StepRun[];
}

export interface StageRun {
  readonly id: string;
  readonly name: string;
  readonly identifier: string;
  readonly status: string;
  readonly start_time: number;
  readonly end_time: number;
  readonly jobs: readonly JobRun[];
}

export interface RunDetail {
  readonly id: string;
  readonly pipeline_id: string;
  readonly name: string;
  readonly status: string;
  readonly trigger_type: string;
  readonly executor_name: string;
  readonly description: string;
  readonly run_number: number;
  readonly start_time: number;
  readonly end_time: number;
  readonly pause_time: number;
  readonly current_system_time: number;
  readonly stages: readonly StageRun[];
  readonly message: string | null;
  readonly start_status?: string;
  readonly queue_position?: number | null;
}

export interface Variable {
  readonly name: string;
  readonly value: string;
  readonly type: string;
  readonly is_runtime: boolean;
  readonly is_secret: boolean;
  readonly description: string;
  readonly limits: readonly string[];
}

export interface PipelineDetail {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly definition: string;
  readonly is_publish: boolean;
  readonly banned: boolean;
  readonly variables: readonly Variable[];
  readonly concurrency_control: Record<string, unknown> | null;
  readonly sources: readonly unknown[];
  readonly schedules: readonly unknown[];
  readonly triggers: readonly unknown[];
  readonly group_id: string | null;
}

export interface BatchStart {
  readonly pipeline_id: string;
  readonly pipeline_run_id: string;
}

export interface BatchStartResult extends BatchStart {
  readonly pipeline_name: string | null;
  readonly status: "START_SUCCESS" | "START_FAILED";
  readonly reason: string | null;
}
