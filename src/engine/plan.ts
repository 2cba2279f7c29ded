// The scheduling rules of one run as a pure function: given the run's current records, which
// stages start, which jobs become ready, are skipped or wait for review, and how the run ends.
// The scheduler writes what this answers; nothing here does I/O.

import { type ConditionAst, evaluateCondition, parseCondition } from "../pipeline/condition.js";
import { DEFAULT_CONDITION, stageOrder } from "../pipeline/definition.js";
import { checkpointSettings } from "../pipeline/task-inputs.js";
import type { JobDef, StageDef } from "../pipeline/types.js";
import {
  CHECKPOINT_TASK,
  type NodeStatus,
  type RunStatus,
  TERMINAL_NODE_STATUSES as TERMINAL_NODE,
  TERMINAL_RUN_STATUSES,
} from "../pipeline/vocabulary.js";
import type {
  JobRunRecord,
  RunChanges,
  RunGraph,
  RunRecord,
  StageRunRecord,
  StepRunRecord,
} from "../store/run-records.js";

/** Predecessors in these states neither satisfy nor fail a `default()` condition: they did not run. */
const NEUTRAL: ReadonlySet<string> = new Set(["SKIPPED", "UNSELECTED", "IGNORED"]);

/** A review step without a timeout waits at most this long, so no run stays PAUSED forever. */
export const DEFAULT_REVIEW_TIMEOUT_SECONDS = 24 * 3600;

export interface PlanEnv {
  readonly now: number;
  /** Monotonic sequence for the FIFO order of ready jobs. */
  readonly nextSeq: () => number;
  /** Parsed conditions by source text, kept across calls (conditions repeat across runs). */
  readonly conditions?: Map<string, ConditionAst>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Stage/job definitions aligned with their run records (records keep definition order). */
function jobDefOf(stage: StageDef, job: JobRunRecord): JobDef {
  return stage.jobs[job.idx]!;
}

export function conditionPipelineContext(run: RunRecord): Record<string, string> {
  return {
    trigger_type: run.trigger_type,
    pipeline_id: run.pipeline_id,
    pipeline_name: run.pipeline_name,
    run_id: run.id,
    pipeline_run_id: run.id,
    run_number: String(run.run_number),
    project_id: run.project_id,
    executor_name: run.executor_name,
  };
}

function sourcesContext(sources: readonly unknown[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  sources.forEach((src, i) => {
    const params = ((src as { params?: Record<string, unknown> }).params ?? {}) as Record<string, unknown>;
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (typeof v === "string") flat[k] = v;
    const build = params.build_params as Record<string, unknown> | undefined;
    if (build) for (const [k, v] of Object.entries(build)) if (typeof v === "string") flat[k] = v;
    const alias = typeof params.alias === "string" && params.alias ? params.alias : `source_${i}`;
    out[alias] = flat;
  });
  return out;
}

/**
 * Decides the next transitions of a run. Runs to a fixed point, so one call takes a run as far
 * as it can go without executing anything (e.g. a whole chain of skipped stages).
 */
export function planRun(g: RunGraph, env: PlanEnv): RunChanges {
  const run = g.run;
  if (TERMINAL_RUN_STATUSES.has(run.status)) return {};
  if (!run.admitted) return {};
  const { now } = env;
  const def = run.context.definition;
  const order = stageOrder(def);

  const stages = g.stages.map((s) => ({ ...s })) as Mutable<StageRunRecord>[];
  const jobs = g.jobs.map((j) => ({ ...j })) as Mutable<JobRunRecord>[];
  const steps = g.steps.map((s) => ({ ...s })) as Mutable<StepRunRecord>[];
  const changedStages = new Set<Mutable<StageRunRecord>>();
  const changedJobs = new Set<Mutable<JobRunRecord>>();
  const changedSteps = new Set<Mutable<StepRunRecord>>();

  const byIdentifier = new Map(stages.map((s) => [s.identifier, s]));
  const jobsOfStage = (idx: number): Mutable<JobRunRecord>[] => jobs.filter((j) => j.stage_idx === idx);
  const jobByIdentifier = new Map(jobs.map((j) => [j.identifier, j]));
  const stepsOfJob = (jobId: string): Mutable<StepRunRecord>[] =>
    steps.filter((s) => s.job_id === jobId).sort((a, b) => a.idx - b.idx);

  const vars: Record<string, string> = {};
  for (const v of run.context.variables) vars[v.name] = v.value;
  const baseCtx = {
    pipeline: conditionPipelineContext(run),
    variables: vars,
    sources: sourcesContext(run.context.sources),
  };

  const setStage = (s: Mutable<StageRunRecord>, status: NodeStatus): void => {
    s.status = status;
    if (status === "RUNNING") s.start_time = now;
    else if (TERMINAL_NODE.has(status)) s.end_time = now;
    changedStages.add(s);
  };
  const setJob = (j: Mutable<JobRunRecord>, status: NodeStatus, message?: string): void => {
    j.status = status;
    if (message !== undefined) j.message = message;
    if (status === "QUEUED") j.ready_seq = env.nextSeq();
    if (TERMINAL_NODE.has(status)) j.end_time = now;
    changedJobs.add(j);
    if (status === "SKIPPED" || status === "UNSELECTED") {
      for (const st of stepsOfJob(j.id)) {
        if (!TERMINAL_NODE.has(st.status)) {
          st.status = status;
          changedSteps.add(st);
        }
      }
    }
  };

  /**
   * The jobs a stage's jobs look back at: those of the stages it waits for, looking through
   * stages that did not run (skipped, unselected) to what those waited for.
   */
  const predecessorStageJobs = (
    waitsFor: readonly string[],
    seen = new Set<string>(),
  ): Mutable<JobRunRecord>[] =>
    waitsFor.flatMap((id) => {
      if (seen.has(id)) return [];
      seen.add(id);
      const st = byIdentifier.get(id)!;
      if (st.status === "SKIPPED" || st.status === "UNSELECTED") {
        return predecessorStageJobs(order[st.idx]!.waitsFor, seen);
      }
      return jobsOfStage(st.idx);
    });

  /** The stages a stage waits for, and, through skipped or unselected ones, what those wait for. */
  const stagesWaitedFor = (
    waitsFor: readonly string[],
    seen = new Set<string>(),
  ): Mutable<StageRunRecord>[] =>
    waitsFor.flatMap((id) => {
      if (seen.has(id)) return [];
      seen.add(id);
      const st = byIdentifier.get(id)!;
      if (st.status === "SKIPPED" || st.status === "UNSELECTED") {
        return [st, ...stagesWaitedFor(order[st.idx]!.waitsFor, seen)];
      }
      return [st];
    });

  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const entry of order) {
      const stage = stages[entry.index]!;
      const stageDef = def.stages[entry.index]!;
      if (TERMINAL_NODE.has(stage.status)) continue;

      if (stage.status === "INIT") {
        // Look through stages that will not run (an unselected one ends at once) to what they wait for.
        const waits = stagesWaitedFor(entry.waitsFor);
        if (waits.some((w) => !TERMINAL_NODE.has(w.status))) continue;
        if (stages.some((s) => s.status === "FAILED") && !stageDef.run_always) {
          setStage(stage, "SKIPPED");
          for (const j of jobsOfStage(stage.idx)) if (!TERMINAL_NODE.has(j.status)) setJob(j, "SKIPPED");
          progressed = true;
          continue;
        }
        setStage(stage, "RUNNING");
        progressed = true;
      }

      if (stage.status === "RUNNING") {
        const stageJobs = jobsOfStage(stage.idx);
        const prevStageJobs = predecessorStageJobs(entry.waitsFor);
        for (const job of stageJobs) {
          if (job.status !== "INIT") continue;
          const jd = jobDefOf(stageDef, job);
          const deps = jd.depends_on.map((id) => jobByIdentifier.get(id)!);
          if (deps.some((d) => !TERMINAL_NODE.has(d.status))) continue;
          // In a run_always stage the default condition does not look back at the failed stages:
          // that is what run_always asks for. An explicit condition (failure(), …) still can.
          const lookBack = !(
            stageDef.run_always &&
            jd.depends_on.length === 0 &&
            jd.condition === DEFAULT_CONDITION
          );
          const preds = (deps.length > 0 ? deps : lookBack ? prevStageJobs : [])
            .map((d) => d.status)
            .filter((s) => !NEUTRAL.has(s));
          let ok: boolean;
          let why: string | undefined;
          try {
            let ast = env.conditions?.get(jd.condition);
            if (!ast) {
              ast = parseCondition(jd.condition);
              if (env.conditions && env.conditions.size < 10_000) env.conditions.set(jd.condition, ast);
            }
            ok = evaluateCondition(ast, {
              ...baseCtx,
              jobs: Object.fromEntries(jobs.map((x) => [x.identifier, { status: x.status }])),
              predecessors: preds,
            });
          } catch (err) {
            ok = false;
            why = `condition error: ${(err as Error).message}`;
          }
          if (!ok) {
            setJob(job, "SKIPPED", why ?? `condition ${jd.condition} is false`);
          } else {
            startJob(job, jd);
          }
          progressed = true;
        }
        if (stageJobs.every((j) => TERMINAL_NODE.has(j.status))) {
          const st = stageJobs.map((j) => j.status);
          setStage(
            stage,
            st.some((s) => s === "FAILED" || s === "ASYNC_FAILED")
              ? "FAILED"
              : st.some((s) => s === "CANCELED")
                ? "CANCELED"
                : "COMPLETED",
          );
          progressed = true;
        }
      }
    }
  }

  /** A ready job queues for a runner, or waits for review when its next step is a checkpoint. */
  function startJob(job: Mutable<JobRunRecord>, jd: JobDef): void {
    const c = enterNextStep(job, jd, stepsOfJob(job.id), now, env.nextSeq);
    for (const p of c.jobs ?? []) {
      Object.assign(job, p);
      changedJobs.add(job);
    }
    for (const p of c.steps ?? []) {
      const st = steps.find((x) => x.id === p.id)!;
      Object.assign(st, p);
      changedSteps.add(st);
    }
  }

  // Steps after the one a job failed at never run: say so rather than leaving them INIT.
  for (const j of jobs) {
    if (j.status !== "FAILED" && j.status !== "CANCELED") continue;
    for (const st of stepsOfJob(j.id)) {
      if (st.status === "INIT") {
        st.status = "SKIPPED";
        changedSteps.add(st);
      }
    }
  }

  const runPatch: Mutable<Partial<RunRecord>> & { id: string } = { id: run.id };
  const status = deriveRunStatus(stages, jobs);
  if (status !== run.status) runPatch.status = status;
  if (status === "COMPLETED" || status === "FAILED" || status === "CANCELED") runPatch.end_time = now;
  if (status === "PAUSED" && run.paused_since === null) runPatch.paused_since = now;
  if (status !== "PAUSED" && run.paused_since !== null) {
    runPatch.pause_time = run.pause_time + (now - run.paused_since);
    runPatch.paused_since = null;
  }
  const changed =
    Object.keys(runPatch).length > 1 || changedStages.size + changedJobs.size + changedSteps.size > 0;
  if (!changed) return {};
  runPatch.update_time = now;
  return {
    run: runPatch,
    stages: [...changedStages].map((s) => ({
      id: s.id,
      status: s.status,
      start_time: s.start_time,
      end_time: s.end_time,
    })),
    jobs: [...changedJobs].map((j) => ({
      id: j.id,
      status: j.status,
      message: j.message,
      next_step: j.next_step,
      ready_seq: j.ready_seq,
      start_time: j.start_time,
      end_time: j.end_time,
    })),
    steps: [...changedSteps].map((s) => ({
      id: s.id,
      status: s.status,
      start_time: s.start_time,
      end_time: s.end_time,
      deadline: s.deadline,
    })),
  };
}

/**
 * What happens when a job is about to execute its step `job.next_step`: a manual review pauses
 * the job (the step waits with a deadline), no step left completes it, anything else queues it
 * for a runner.
 */
export function enterNextStep(
  job: JobRunRecord,
  jd: JobDef,
  steps: readonly StepRunRecord[],
  now: number,
  nextSeq: () => number,
): RunChanges {
  const next = jd.steps[job.next_step];
  if (next === undefined) {
    return { jobs: [{ id: job.id, status: "COMPLETED", next_step: job.next_step, end_time: now }] };
  }
  if (next.task === CHECKPOINT_TASK) {
    const step = steps[job.next_step]!;
    const { timeoutSeconds } = checkpointSettings(next);
    return {
      jobs: [{ id: job.id, status: "PAUSED", next_step: job.next_step, start_time: job.start_time || now }],
      steps: [
        {
          id: step.id,
          status: "PAUSED",
          start_time: now,
          deadline: now + (timeoutSeconds ?? DEFAULT_REVIEW_TIMEOUT_SECONDS) * 1000,
        },
      ],
    };
  }
  return { jobs: [{ id: job.id, status: "QUEUED", next_step: job.next_step, ready_seq: nextSeq() }] };
}

/** The run's status follows from its stages and jobs. */
export function deriveRunStatus(
  stages: readonly Pick<StageRunRecord, "status">[],
  jobs: readonly Pick<JobRunRecord, "status">[],
): RunStatus {
  if (stages.every((s) => TERMINAL_NODE.has(s.status))) {
    if (stages.some((s) => s.status === "FAILED")) return "FAILED";
    if (stages.some((s) => s.status === "CANCELED")) return "CANCELED";
    return "COMPLETED";
  }
  if (jobs.some((j) => j.status === "RUNNING")) return "RUNNING";
  if (jobs.some((j) => j.status === "PAUSED")) return "PAUSED";
  // Before its first job starts, a run is QUEUED: it waits for runner capacity.
  const started = jobs.some((j) => j.status !== "INIT" && j.status !== "QUEUED" && !NEUTRAL.has(j.status));
  return started ? "RUNNING" : "QUEUED";
}
