// Finding what a path names, with CodeArts's answers for what is missing or elsewhere: a pipeline
// of another project is a mismatch (00011136), a run of another pipeline does not exist.

import { PipewrightError } from "../errors.js";
import { TERMINAL_NODE_STATUSES } from "../pipeline/vocabulary.js";
import type { RunRecord, StepRunRecord } from "../store/run-records.js";
import type { PipelineRecord, PipelineStore, ProjectStore, RunStore } from "../store/store.js";

export async function loadPipeline(
  store: PipelineStore,
  projectId: string,
  pipelineId: string,
): Promise<PipelineRecord> {
  const p = await store.getPipeline(pipelineId);
  if (!p) throw new PipewrightError("PIPELINE_NOT_FOUND", `Pipeline ${pipelineId} does not exist.`);
  if (p.project_id !== projectId) {
    throw new PipewrightError(
      "PROJECT_PIPELINE_MISMATCH",
      `Pipeline ${pipelineId} does not belong to project ${projectId}.`,
    );
  }
  return p;
}

export async function requireProjectExists(store: ProjectStore, projectId: string): Promise<void> {
  if (!(await store.getProject(projectId))) {
    throw new PipewrightError(
      "PROJECT_NOT_FOUND",
      `Project ${projectId} does not exist or you are not a member of it.`,
    );
  }
}

export interface RunPath {
  readonly project_id: string;
  readonly pipeline_id: string;
  readonly pipeline_run_id: string;
}

/**
 * The run of the path. The caller has checked the path's pipeline with authorizePipeline (it
 * exists, is the project's and may be seen): every route does that first, so it is not read again.
 */
export async function loadRun(store: RunStore, path: RunPath): Promise<RunRecord> {
  const run = await store.getRun(path.pipeline_run_id);
  if (!run || run.pipeline_id !== path.pipeline_id) {
    throw new PipewrightError(
      "RUN_NOT_FOUND",
      `Pipeline ${path.pipeline_id} has no run ${path.pipeline_run_id}.`,
    );
  }
  return run;
}

export interface StepPath extends RunPath {
  readonly job_run_id: string;
  readonly step_run_id: string;
}

/** The step of the path; its pipeline checked by the caller, as for loadRun. */
export async function loadStep(store: RunStore, path: StepPath): Promise<StepRunRecord> {
  await loadRun(store, path);
  const step = await store.getStep(path.step_run_id);
  if (!step || step.run_id !== path.pipeline_run_id || step.job_id !== path.job_run_id) {
    throw new PipewrightError(
      "JOB_NOT_FOUND",
      `No step ${path.step_run_id} of job ${path.job_run_id} in run ${path.pipeline_run_id}.`,
    );
  }
  return step;
}

/** Where a step's log of one attempt is stored, and whether more of it may come. */
export interface StepLogRef {
  readonly logId: string;
  readonly running: boolean;
}

/**
 * The log of the step in `attempt` of its job: the step itself for the current attempt (or none
 * named), the kept step of an earlier one (finished, so nothing more comes).
 */
export async function loadStepLog(
  store: RunStore,
  path: StepPath,
  attempt: number | undefined,
): Promise<StepLogRef> {
  const step = await loadStep(store, path);
  const job = await store.getJob(step.job_id);
  const current = job?.run_attempt ?? 1;
  if (attempt === undefined || attempt === current) {
    return { logId: step.id, running: !TERMINAL_NODE_STATUSES.has(step.status) };
  }
  const kept = (await store.getJobAttempts(step.run_id))
    .find((a) => a.job_id === step.job_id && a.attempt === attempt)
    ?.steps.find((s) => s.step_id === step.id);
  if (!kept) {
    throw new PipewrightError(
      "JOB_NOT_FOUND",
      `attempt: job ${step.job_id} has no attempt ${attempt} of step ${step.id} (attempts 1 to ${current}).`,
    );
  }
  return { logId: kept.id, running: false };
}
