// Records of pipeline runs as the engine reads and writes them: a run, its stage, job and step
// runs, log chunks. Shared by the Store port and the engine.

import type { StepOutput } from "../pipeline/outputs.js";
import type { Definition } from "../pipeline/types.js";
import type { RunVariable } from "../pipeline/variable-groups.js";
import type { NodeStatus, RunStatus } from "../pipeline/vocabulary.js";

/** What a run was started with, frozen at creation so later edits of the pipeline do not change it. */
export interface RunContext {
  readonly definition: Definition;
  /** The pipeline's variables, then its parameter groups' (pipeline/variable-groups.ts). */
  readonly variables: readonly RunVariable[];
  readonly sources: readonly unknown[];
}

export interface RunRecord {
  readonly id: string;
  readonly pipeline_id: string;
  readonly project_id: string;
  readonly pipeline_name: string;
  readonly run_number: number;
  readonly status: RunStatus;
  readonly trigger_type: string;
  readonly description: string;
  readonly executor_id: string;
  readonly executor_name: string;
  readonly start_time: number;
  readonly end_time: number;
  readonly pause_time: number;
  readonly paused_since: number | null;
  readonly admitted: boolean;
  readonly queue_seq: number;
  readonly stop_requested: boolean;
  readonly start_status: "START_SUCCESS" | "START_FAILED";
  readonly start_reason: string | null;
  readonly message: string | null;
  readonly context: RunContext;
  /**
   * The sub-pipeline step that started this run (engine/subpipelines.ts), or null for a run
   * started any other way. A step starts at most one child run (a unique index holds it).
   */
  readonly parent_run_id: string | null;
  readonly parent_pipeline_id: string | null;
  readonly parent_job_id: string | null;
  readonly parent_step_id: string | null;
  readonly create_time: number;
  readonly update_time: number;
  /**
   * Bumped by every change of the run's records (the run, its stages, jobs and steps) in the same
   * transaction, so a copy of them is current as long as the stored version is the same.
   */
  readonly version: number;
}

export interface StageRunRecord {
  readonly id: string;
  readonly run_id: string;
  readonly idx: number;
  readonly identifier: string;
  readonly name: string;
  readonly status: NodeStatus;
  readonly is_select: boolean;
  readonly start_time: number;
  readonly end_time: number;
}

export interface JobRunRecord {
  readonly id: string;
  readonly run_id: string;
  readonly project_id: string;
  readonly stage_idx: number;
  readonly idx: number;
  readonly identifier: string;
  readonly name: string;
  readonly status: NodeStatus;
  readonly message: string | null;
  readonly is_select: boolean;
  readonly next_step: number;
  readonly ready_seq: number;
  readonly attempt: number;
  /** Which execution of the job this is: 1, and one more for each retry that reran it. */
  readonly run_attempt: number;
  readonly runner_id: string | null;
  readonly lease_expires: number | null;
  readonly labels: readonly string[];
  readonly pgid: number | null;
  readonly lost: number;
  readonly heartbeat_time: number | null;
  readonly start_time: number;
  readonly end_time: number;
}

export interface StepRunRecord {
  readonly id: string;
  readonly run_id: string;
  readonly job_id: string;
  readonly idx: number;
  readonly identifier: string;
  readonly name: string;
  readonly task: string;
  readonly status: NodeStatus;
  readonly message: string | null;
  readonly deadline: number | null;
  readonly log_bytes: number;
  readonly start_time: number;
  readonly end_time: number;
  /** What the step wrote to its outputs file (`$PIPEWRIGHT_OUTPUT`), secrets masked. */
  readonly outputs: readonly StepOutput[];
  /** A manual review's decisions so far (several approvers), in the order they came. */
  readonly approvals: readonly StepApproval[];
}

export interface StepApproval {
  /** The approver as the review names them (credential id or name). */
  readonly approver: string;
  readonly decision: "pass" | "refuse";
  readonly description: string;
  readonly time: number;
}

/** An earlier execution of a job, kept when a retry reran it (its steps' logs with it). */
export interface JobAttemptRecord {
  readonly id: string;
  readonly run_id: string;
  readonly job_id: string;
  readonly attempt: number;
  readonly status: StepRunRecord["status"];
  readonly message: string | null;
  readonly start_time: number;
  readonly end_time: number;
  readonly steps: readonly StepAttemptRecord[];
}

export interface StepAttemptRecord {
  /** The kept step's own id: its log is stored under it. */
  readonly id: string;
  /** The step (of the run) it was an execution of. */
  readonly step_id: string;
  readonly idx: number;
  readonly status: StepRunRecord["status"];
  readonly message: string | null;
  readonly start_time: number;
  readonly end_time: number;
  readonly log_bytes: number;
}

export interface RunGraph {
  readonly run: RunRecord;
  readonly stages: readonly StageRunRecord[];
  readonly jobs: readonly JobRunRecord[];
  readonly steps: readonly StepRunRecord[];
}

type Patch<T> = { readonly id: string } & Partial<Omit<T, "id">>;

/** A set of changes to one run's records, written in one transaction. */
export interface RunChanges {
  readonly run?: Patch<RunRecord> | undefined;
  readonly stages?: readonly Patch<StageRunRecord>[];
  readonly jobs?: readonly Patch<JobRunRecord>[];
  readonly steps?: readonly Patch<StepRunRecord>[];
  /** Steps whose stored logs are dropped (a redispatched step starts a fresh log). */
  readonly clearLogsOf?: readonly string[];
  /**
   * Job executions to keep before the jobs are reset (a retry): each is stored, and the logs of
   * its steps move from the step's id to the kept step's id, so the step starts a fresh log.
   */
  readonly keepAttempts?: readonly JobAttemptRecord[];
}

/** Conditions a write must still meet, so a late writer cannot overwrite a newer state. */
export interface JobFence {
  readonly jobId: string;
  readonly attempt: number;
  /** The runner the attempt was dispatched to; a report from any other runner is fenced out. */
  readonly runnerId?: string | undefined;
}

export interface LogChunk {
  readonly start_offset: number;
  readonly text: string;
}

export const RUN_SORT_KEYS = ["start_time", "update_time"] as const;
export type RunSortKey = (typeof RUN_SORT_KEYS)[number];

export interface RunQuery {
  readonly pipeline_id: string;
  readonly statuses?: readonly string[] | undefined;
  readonly start_time?: number | undefined;
  readonly end_time?: number | undefined;
  readonly update_time?: number | undefined;
  /** Only runs admitted past concurrency control (true) or still waiting for it (false). */
  readonly admitted?: boolean | undefined;
  readonly offset: number;
  readonly limit: number;
  readonly sort_key: RunSortKey;
  readonly sort_dir: "asc" | "desc";
}

/** A project's runs across its pipelines (ours: the UI's and the CLI's run list), newest first. */
export interface ProjectRunQuery {
  readonly project_id: string;
  readonly pipeline_ids?: readonly string[] | undefined;
  readonly statuses?: readonly string[] | undefined;
  readonly trigger_types?: readonly string[] | undefined;
  /** Runs created at or after / at or before (epoch ms). */
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  /** Only runs of pipelines this credential may query; unset: no such filter. */
  readonly visible_to?: { readonly role: string; readonly credential_id: string } | undefined;
  readonly offset: number;
  readonly limit: number;
}

/**
 * What a batch run with an Idempotency-Key started: the hash of its pipeline ids and the runs
 * created for them, in request order. A repeat with the same ids answers these runs again.
 */
export interface BatchRecord {
  readonly project_id: string;
  readonly idempotency_key: string;
  readonly body_hash: string;
  readonly run_ids: readonly string[];
  readonly create_time: number;
}

export interface RunnerRecord {
  readonly id: string;
  /** The token (or access key) that registered it: only that credential may act as it. */
  readonly credential_id: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
  readonly create_time: number;
  readonly last_seen: number;
}

/** A job as a claim hands it out, with the version its run has after the claim. */
export interface ClaimedJob extends JobRunRecord {
  readonly run_version: number;
}

export interface ClaimRequest {
  readonly runnerId: string;
  readonly limit: number;
  /** Labels the runner has; a job is claimable when all of its labels are among them. */
  readonly labels: readonly string[];
  readonly now: number;
  readonly leaseMs: number;
}
