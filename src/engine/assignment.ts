// What a runner gets for a job it claimed: the job's steps from the run's frozen definition, the
// environment (run variables and the system values), the secrets to mask and the limits.

import { referencedJobs, substituteOutputs } from "../pipeline/outputs.js";
import { systemValues } from "../pipeline/system-variables.js";
import type { JobAssignment } from "../runner/job.js";
import type { JobRunRecord, RunRecord, StepRunRecord } from "../store/run-records.js";

export interface AssignmentLimits {
  readonly defaultJobTimeoutSeconds: number;
  readonly maxLogBytes: number;
  readonly maxArtifactBytes: number;
  readonly maxCacheBytes: number;
}

/** Whether the job's step inputs read other jobs' outputs (`${{ jobs.<job>.outputs.<name> }}`). */
export function readsOutputs(run: RunRecord, job: JobRunRecord): boolean {
  const jd = run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!;
  let reads = readers.get(jd);
  if (reads === undefined) {
    reads = jd.steps.some((s) =>
      s.inputs.some((i) => typeof i.value === "string" && referencedJobs(i.value).length > 0),
    );
    readers.set(jd, reads);
  }
  return reads;
}

/** Per job definition (one object serves every run of a definition text): whether it reads outputs. */
const readers = new WeakMap<object, boolean>();

/**
 * `steps` are the job's, in order (reading only them keeps a claim cheap in a large run);
 * `outputsOf` answers another job's outputs (by identifier), for inputs that refer to them.
 */
export function buildAssignment(
  run: RunRecord,
  job: JobRunRecord,
  steps: readonly StepRunRecord[],
  limits: AssignmentLimits,
  outputsOf?: (jobIdentifier: string) => Readonly<Record<string, string>> | undefined,
): JobAssignment {
  const def = run.context.definition;
  const jd = def.stages[job.stage_idx]!.jobs[job.idx]!;
  const resolve = (v: unknown): unknown =>
    outputsOf && typeof v === "string" ? substituteOutputs(v, outputsOf) : v;
  const env: Record<string, string> = {};
  for (const v of run.context.variables) env[v.name] = v.value;
  Object.assign(
    env,
    systemValues({
      projectId: run.project_id,
      pipelineId: run.pipeline_id,
      pipelineName: run.pipeline_name,
      run: { id: run.id, number: run.run_number, triggerType: run.trigger_type },
      job: {
        stageIdentifier: def.stages[job.stage_idx]!.identifier,
        jobIdentifier: jd.identifier,
        jobRunId: job.id,
      },
    }),
  );
  return {
    jobRunId: job.id,
    runId: run.id,
    attempt: job.attempt,
    steps: steps.map((s, i) => ({
      id: s.id,
      identifier: s.identifier,
      name: s.name,
      task: s.task,
      inputs: (jd.steps[i]?.inputs ?? []).map((inp) => ({ ...inp, value: resolve(inp.value) })),
    })),
    startStep: job.next_step,
    env,
    secrets: run.context.variables.filter((v) => v.is_secret && v.value !== "").map((v) => v.value),
    sources: run.context.sources,
    timeoutMs: (jd.timeoutSeconds ?? limits.defaultJobTimeoutSeconds) * 1000,
    maxLogBytes: limits.maxLogBytes,
    labels: job.labels,
    // Definitions frozen before artifacts existed have neither list.
    artifacts: jd.artifacts ?? [],
    downloads: jd.download_artifacts ?? [],
    maxArtifactBytes: limits.maxArtifactBytes,
    cache: jd.cache ?? null,
    maxCacheBytes: limits.maxCacheBytes,
  };
}
