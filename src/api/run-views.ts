// How runs look on the wire: CodeArts's run detail (§4.8), run list items (§4.9) and latest-run
// entries (§4.10), built from the stored records.

import { indexRun, type RunIndex } from "../engine/graph.js";
import type { JobDef, StageDef, StepDef } from "../pipeline/types.js";
import { SECRET_MASK } from "../pipeline/vocabulary.js";
import type { JobAttemptRecord, RunGraph, RunRecord, StageRunRecord } from "../store/run-records.js";
import type {
  JobAttempt,
  JobRun,
  RunDetail,
  RunSummary,
  StageRun,
  StageStatus,
  StepRun,
} from "../wire/types.js";

const nullIfEmpty = (s: string | null): string | null => (s === "" ? null : s);

function stepView(
  def: StepDef | undefined,
  s: RunGraph["steps"][number],
  children: ReadonlyMap<string, RunRecord>,
): StepRun {
  const child = children.get(s.id);
  return {
    id: s.id,
    name: s.name,
    task: s.task,
    business_type: (def?.extra.business_type as string | undefined) ?? "Normal",
    inputs: def?.inputs ?? [],
    sequence: s.idx,
    official_task_version: (def?.extra.official_task_version as string | undefined) ?? null,
    identifier: s.identifier,
    multi_step_editable: 0,
    endpoint_ids: [],
    last_dispatch_id: null,
    status: s.status,
    message: s.message,
    start_time: s.start_time,
    end_time: s.end_time,
    daily_build_number: null,
    // Ours: bytes of log stored so far, and the deadline of a waiting manual review.
    log_size: s.log_bytes,
    review_deadline: s.deadline,
    sub_pipeline_run: child
      ? {
          pipeline_id: child.pipeline_id,
          pipeline_run_id: child.id,
          pipeline_name: child.pipeline_name,
          run_number: child.run_number,
          status: child.status,
        }
      : null,
    approvals: s.approvals.map((a) => ({ ...a })),
  };
}

function attemptView(a: JobAttemptRecord): JobAttempt {
  return {
    attempt: a.attempt,
    status: a.status,
    message: a.message,
    start_time: a.start_time,
    end_time: a.end_time,
    steps: a.steps.map((s) => ({
      id: s.id,
      step_id: s.step_id,
      status: s.status,
      message: s.message,
      start_time: s.start_time,
      end_time: s.end_time,
      log_size: s.log_bytes,
    })),
  };
}

function jobView(
  def: JobDef | undefined,
  index: RunIndex,
  j: RunGraph["jobs"][number],
  attempts: readonly JobAttemptRecord[],
  children: ReadonlyMap<string, RunRecord>,
): JobRun {
  const steps = index.stepsOfJob(j.id);
  return {
    id: j.id,
    category: null,
    sequence: j.idx,
    async: "false",
    name: j.name,
    identifier: j.identifier,
    depends_on: def?.depends_on ?? [],
    condition: def?.condition ?? null,
    resource: def?.resource ?? "",
    is_select: j.is_select,
    timeout: def?.timeout ?? "",
    last_dispatch_id: j.attempt > 0 ? `${j.id}-${j.attempt}` : null,
    status: j.status,
    message: j.message,
    start_time: j.start_time,
    end_time: j.end_time,
    steps: steps.map((s) => stepView(def?.steps[s.idx], s, children)),
    exec_id: null,
    attempt: j.run_attempt,
    previous_attempts: attempts.filter((a) => a.job_id === j.id).map(attemptView),
  };
}

function stageView(
  def: StageDef | undefined,
  index: RunIndex,
  s: StageRunRecord,
  attempts: readonly JobAttemptRecord[],
  children: ReadonlyMap<string, RunRecord>,
): StageRun {
  const jobs = index.jobsOfStage(s.idx);
  return {
    id: s.id,
    category: null,
    name: s.name,
    identifier: s.identifier,
    run_always: def?.run_always ?? false,
    parallel: null,
    is_select: s.is_select,
    sequence: s.idx,
    depends_on: def?.depends_on ?? [],
    condition: null,
    status: s.status,
    start_time: s.start_time,
    end_time: s.end_time,
    pause_time: 0,
    pre: [],
    post: [],
    jobs: jobs.map((j) => jobView(def?.jobs[j.idx], index, j, attempts, children)),
  };
}

/** Pause time including the pause still going on. */
function pauseTime(r: RunRecord, now: number): number {
  return r.pause_time + (r.paused_since !== null ? now - r.paused_since : 0);
}

export function runDetailView(
  g: RunGraph,
  now: number,
  queue: { position: number } | undefined,
  attempts: readonly JobAttemptRecord[] = [],
  /** The runs its sub-pipeline steps started. */
  childRuns: readonly RunRecord[] = [],
): RunDetail {
  const r = g.run;
  const children = new Map(
    childRuns.flatMap((c) => (c.parent_step_id ? [[c.parent_step_id, c] as const] : [])),
  );
  const def = r.context.definition;
  const index = indexRun(g);
  return {
    id: r.id,
    pipeline_id: r.pipeline_id,
    manifest_version: "3.0",
    name: r.pipeline_name,
    description: r.description,
    is_publish: false,
    executor_id: r.executor_id,
    executor_name: r.executor_name,
    status: r.status,
    trigger_type: r.trigger_type,
    run_number: r.run_number,
    start_time: r.start_time,
    end_time: r.end_time,
    pause_time: pauseTime(r, now),
    stages: g.stages.map((s) => stageView(def.stages[s.idx], index, s, attempts, children)),
    domain_id: "",
    project_id: r.project_id,
    region: "local",
    component_id: "",
    language: "en-us",
    sources: r.context.sources,
    artifacts: [],
    subject_id: r.id,
    group_id: null,
    group_name: null,
    detail_url: null,
    current_system_time: now,
    // Ours, beyond CodeArts's fields.
    message: nullIfEmpty(r.message),
    start_status: r.start_status,
    queue_id: queue ? r.id : null,
    queue_position: queue?.position ?? null,
    variables: r.context.variables.map((v) => ({
      name: v.name,
      value: v.is_secret ? SECRET_MASK : v.value,
      is_secret: v.is_secret,
    })),
    parent_run:
      r.parent_run_id && r.parent_pipeline_id && r.parent_job_id && r.parent_step_id
        ? {
            pipeline_id: r.parent_pipeline_id,
            pipeline_run_id: r.parent_run_id,
            job_run_id: r.parent_job_id,
            step_run_id: r.parent_step_id,
          }
        : null,
  };
}

export function stageStatusList(stages: readonly StageRunRecord[], withId: boolean): StageStatus[] {
  return [...stages]
    .sort((a, b) => a.idx - b.idx)
    .map((s) => ({
      name: s.name,
      sequence: s.idx,
      status: s.status,
      start_time: String(s.start_time),
      end_time: String(s.end_time),
      ...(withId ? { id: s.id } : {}),
    }));
}

const EMPTY_BUILD_PARAMS = {
  action: null,
  build_type: null,
  commit_id: null,
  event_type: null,
  merge_id: null,
  message: null,
  source_branch: null,
  tag: null,
  target_branch: null,
  codehub_id: null,
  git_url: null,
  source_codehub_id: null,
  source_codehub_url: null,
  source_codehub_http_url: null,
};

/** A build parameter as text: sources are free-form, the answer's parameters are strings. */
const paramText = (v: unknown): string | null =>
  v === undefined || v === null ? null : typeof v === "string" ? v : JSON.stringify(v);

function buildParams(r: RunRecord): RunSummary["build_params"] {
  const first = r.context.sources[0] as { params?: Record<string, unknown> } | undefined;
  const p = first?.params ?? {};
  const b = (p.build_params ?? {}) as Record<string, unknown>;
  const given: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(b)) given[k] = paramText(v);
  return {
    ...EMPTY_BUILD_PARAMS,
    ...given,
    git_url: paramText(p.git_url),
    codehub_id: paramText(p.codehub_id),
  };
}

/** A run as an item of the run list and of the latest-status answer. */
export function runSummaryView(
  r: RunRecord,
  stages: readonly StageRunRecord[],
  withStageIds: boolean,
): RunSummary {
  return {
    pipeline_id: r.pipeline_id,
    pipeline_run_id: r.id,
    executor_id: r.executor_id,
    executor_name: r.executor_name,
    stage_status_list: stageStatusList(stages, withStageIds),
    status: r.status,
    run_number: r.run_number,
    trigger_type: r.trigger_type,
    build_params: buildParams(r),
    artifact_params: { version: null, branch_filter: null, package_name: null, organization: null },
    start_time: r.start_time,
    end_time: r.end_time,
    detail_url: "",
    modify_url: "",
  };
}
