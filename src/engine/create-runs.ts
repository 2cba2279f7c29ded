// Turning "start these pipelines" into run records: variable resolution, stage/job selection,
// the start decision (banned, concurrency ABORT/QUEUE), and the rows of stages, jobs and steps.
// Pure apart from the id generator passed in.

import { invalid, PipewrightError } from "../errors.js";
import { type RunPolicy, sourcesProblem } from "../pipeline/environment.js";
import type { Definition, Variable } from "../pipeline/types.js";
import { nextAutoIncrement } from "../pipeline/variables.js";
import type { NodeStatus } from "../pipeline/vocabulary.js";
import type { RunContext, RunGraph, RunRecord } from "../store/run-records.js";
import type { PipelineRecord } from "../store/store.js";

export interface RunOptions {
  readonly description?: string | undefined;
  readonly variables?: readonly { readonly name: string; readonly value: string }[] | undefined;
  readonly choose_stages?: readonly string[] | undefined;
  readonly choose_jobs?: readonly string[] | undefined;
  readonly sources?: readonly unknown[] | undefined;
  readonly trigger_type?: string | undefined;
}

/** Where a child run was started from: the parent run's sub-pipeline step. */
export interface ParentLink {
  readonly runId: string;
  readonly pipelineId: string;
  readonly jobId: string;
  readonly stepId: string;
}

export interface Executor {
  readonly id: string;
  readonly name: string;
}

export const BANNED_REASON = "Current pipeline is banned.";

/**
 * Checks a run request against the pipeline before anything is written: runtime-variable
 * overrides and stage/job selection. Throws a 400 naming the field.
 */
export function validateRunOptions(
  p: PipelineRecord,
  def: Definition,
  o: RunOptions,
  policy: RunPolicy,
): void {
  const source = o.sources && sourcesProblem(o.sources, policy.allowLocalClone);
  if (source) throw invalid(source.path, source.problem);
  o.variables?.forEach((v, i) => {
    const decl = p.spec.variables.find((d) => d.name === v.name);
    if (!decl)
      throw new PipewrightError(
        "INVALID_VARIABLE",
        `variables[${i}].name: the pipeline has no variable "${v.name}"`,
      );
    if (!decl.is_runtime) {
      throw new PipewrightError(
        "INVALID_VARIABLE",
        `variables[${i}].name: "${v.name}" is not a runtime variable (is_runtime is false)`,
      );
    }
    if (decl.type === "enum" && !decl.limits.includes(v.value)) {
      throw new PipewrightError(
        "INVALID_VARIABLE",
        // A secret enum's choices are secret too.
        `variables[${i}].value: must be one of ${decl.is_secret ? "the variable's limits" : decl.limits.join(", ")}`,
      );
    }
  });
  o.choose_stages?.forEach((id, i) => {
    if (!def.stages.some((s) => s.identifier === id))
      throw invalid(`choose_stages[${i}]`, `no stage "${id}" in the pipeline`);
  });
  o.choose_jobs?.forEach((id, i) => {
    if (!def.stages.some((s) => s.jobs.some((j) => j.identifier === id)))
      throw invalid(`choose_jobs[${i}]`, `no job "${id}" in the pipeline`);
  });
}

/**
 * The variable values of the run, and the pipeline's variables with autoIncrement values advanced
 * (undefined when nothing changes, which is the common case).
 */
export function resolveVariables(
  declared: readonly Variable[],
  overrides: RunOptions["variables"],
): { values: RunContext["variables"]; advanced: Variable[] | undefined } {
  let advanced: Variable[] | undefined;
  // What run-variables answers of the declaration, frozen with the value (a secret's choices are not kept).
  const frozen = (v: Variable) => ({
    sequence: v.sequence,
    type: v.type,
    description: v.description,
    is_runtime: v.is_runtime,
    limits: v.is_secret ? [] : v.limits,
  });
  const values = declared.map((v) => {
    const override = overrides?.find((o) => o.name === v.name);
    if (v.type === "autoIncrement") {
      const value =
        override?.value ?? (v.latest_value && !v.is_reset ? nextAutoIncrement(v.latest_value) : v.value);
      advanced ??= [...declared];
      advanced[advanced.indexOf(v)] = { ...v, latest_value: value, is_reset: false };
      return { name: v.name, value, is_secret: v.is_secret, ...frozen(v) };
    }
    return { name: v.name, value: override?.value ?? v.value, is_secret: v.is_secret, ...frozen(v) };
  });
  return { values, advanced };
}

export interface BuildRunInput {
  readonly pipeline: PipelineRecord;
  readonly definition: Definition;
  readonly runId: string;
  readonly runNumber: number;
  readonly options: RunOptions;
  readonly variables: RunContext["variables"];
  readonly executor: Executor;
  readonly now: number;
  readonly queueSeq: number;
  /** How the start was decided (see decideStart). */
  readonly start: StartDecision;
  /** The sub-pipeline step starting this run, if one is. */
  readonly parent?: ParentLink | undefined;
  readonly newId: () => string;
}

export type StartDecision =
  | { readonly kind: "admitted" }
  | { readonly kind: "queued" }
  | { readonly kind: "refused"; readonly status: "FAILED" | "IGNORED"; readonly reason: string };

/** Banned pipelines and concurrency ABORT refuse; QUEUE over the limit waits for a slot. */
export function decideStart(
  p: PipelineRecord,
  active: { admitted: number; waiting: number } | undefined,
): StartDecision {
  if (p.banned) return { kind: "refused", status: "FAILED", reason: BANNED_REASON };
  const cc = p.spec.concurrency_control;
  if (!cc?.enable) return { kind: "admitted" };
  const admitted = active?.admitted ?? 0;
  const waiting = active?.waiting ?? 0;
  if (admitted < cc.concurrency_number && waiting === 0) return { kind: "admitted" };
  if (cc.exceed_action === "ABORT") {
    return {
      kind: "refused",
      status: "IGNORED",
      reason: `Concurrency limit reached: ${admitted} of ${cc.concurrency_number} runs are active and exceed_action is ABORT.`,
    };
  }
  return { kind: "queued" };
}

export function buildRunGraph(input: BuildRunInput): RunGraph {
  const { pipeline: p, definition: def, options: o, now, start } = input;
  const refused = start.kind === "refused";
  const chooseStages = o.choose_stages && o.choose_stages.length > 0 ? new Set(o.choose_stages) : undefined;
  const chooseJobs =
    !chooseStages && o.choose_jobs && o.choose_jobs.length > 0 ? new Set(o.choose_jobs) : undefined;

  const run: RunRecord = {
    id: input.runId,
    pipeline_id: p.id,
    project_id: p.project_id,
    pipeline_name: p.name,
    run_number: input.runNumber,
    status: refused ? start.status : "QUEUED",
    trigger_type: o.trigger_type ?? "Manual",
    description: o.description ?? "",
    executor_id: input.executor.id,
    executor_name: input.executor.name,
    start_time: start.kind === "queued" ? 0 : now,
    end_time: refused ? now : 0,
    pause_time: 0,
    paused_since: null,
    admitted: start.kind === "admitted",
    queue_seq: input.queueSeq,
    stop_requested: false,
    start_status: refused ? "START_FAILED" : "START_SUCCESS",
    start_reason: refused ? start.reason : null,
    message: refused ? start.reason : null,
    context: { definition: def, variables: input.variables, sources: o.sources ?? p.spec.sources },
    parent_run_id: input.parent?.runId ?? null,
    parent_pipeline_id: input.parent?.pipelineId ?? null,
    parent_job_id: input.parent?.jobId ?? null,
    parent_step_id: input.parent?.stepId ?? null,
    create_time: now,
    update_time: now,
    version: 0,
  };

  const stages: RunGraph["stages"][number][] = [];
  const jobs: RunGraph["jobs"][number][] = [];
  const steps: RunGraph["steps"][number][] = [];
  def.stages.forEach((st, si) => {
    const jobSelected = st.jobs.map((j) =>
      chooseStages ? chooseStages.has(st.identifier) : chooseJobs ? chooseJobs.has(j.identifier) : true,
    );
    const stageSelected = jobSelected.some(Boolean);
    const stageStatus: NodeStatus = refused ? "IGNORED" : stageSelected ? "INIT" : "UNSELECTED";
    stages.push({
      id: input.newId(),
      run_id: run.id,
      idx: si,
      identifier: st.identifier,
      name: st.name,
      status: stageStatus,
      is_select: stageSelected,
      start_time: 0,
      end_time: 0,
    });
    st.jobs.forEach((j, ji) => {
      const jobId = input.newId();
      const jobStatus: NodeStatus = refused ? "IGNORED" : jobSelected[ji] ? "INIT" : "UNSELECTED";
      jobs.push({
        id: jobId,
        run_id: run.id,
        project_id: p.project_id,
        stage_idx: si,
        idx: ji,
        run_attempt: 1,
        identifier: j.identifier,
        name: j.name,
        status: jobStatus,
        message: null,
        is_select: jobSelected[ji]!,
        next_step: 0,
        ready_seq: 0,
        attempt: 0,
        runner_id: null,
        lease_expires: null,
        labels: jobLabels(j.resource),
        pgid: null,
        lost: 0,
        heartbeat_time: null,
        start_time: 0,
        end_time: 0,
      });
      j.steps.forEach((s, k) => {
        steps.push({
          id: input.newId(),
          run_id: run.id,
          job_id: jobId,
          idx: k,
          identifier: s.identifier,
          name: s.name,
          task: s.task,
          status: jobStatus,
          message: null,
          deadline: null,
          log_bytes: 0,
          start_time: 0,
          end_time: 0,
          outputs: [],
          approvals: [],
        });
      });
    });
  });
  return { run, stages, jobs, steps };
}

/** Runner labels a job asks for: `resource` JSON's `labels` (array or comma list). */
export function jobLabels(resource: string): string[] {
  if (!resource) return [];
  try {
    const r = JSON.parse(resource) as { labels?: unknown };
    if (Array.isArray(r.labels))
      return r.labels.filter((l): l is string => typeof l === "string" && l !== "");
    if (typeof r.labels === "string")
      return r.labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean);
  } catch {
    // A resource that is not JSON asks for nothing in particular.
  }
  return [];
}
