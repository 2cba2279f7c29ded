// Steps of a run as the CLI names them (`--step`): by identifier or run id, else by the job's, else
// by a step or job name that only one has.

import type { JobRun, RunDetail, StageRun, StepRun } from "./api.js";
import { usageError } from "./cli-error.js";

export interface StepPos {
  readonly stage: StageRun;
  readonly job: JobRun;
  readonly step: StepRun;
}

export function stepsOf(d: RunDetail): StepPos[] {
  return d.stages.flatMap((stage) =>
    stage.jobs.flatMap((job) => job.steps.map((step) => ({ stage, job, step }))),
  );
}

export function stepPath(s: StepPos): string {
  return `${s.stage.name} › ${s.job.name} › ${s.step.name}`;
}

/**
 * The steps `ref` names: a step (identifier or run id), else a job (all its steps), else a step or
 * job name. A name that several share must be made precise with an identifier.
 */
export function pickSteps(d: RunDetail, ref: string, label: string): StepPos[] {
  const all = stepsOf(d);
  const tiers: ((s: StepPos) => boolean)[] = [
    (s) => s.step.identifier === ref || s.step.id === ref,
    (s) => s.job.identifier === ref || s.job.id === ref,
    (s) => s.step.name === ref,
    (s) => s.job.name === ref,
  ];
  for (const [i, matches] of tiers.entries()) {
    const hit = all.filter(matches);
    if (hit.length === 0) continue;
    const jobs = new Set(hit.map((s) => s.job.id));
    // A step name shared by several steps is ambiguous; a job name shared by several jobs too.
    if ((i === 2 && hit.length > 1) || (i === 3 && jobs.size > 1)) {
      throw usageError(
        `"${ref}" names several ${i === 2 ? "steps" : "jobs"} of ${label}; give an identifier: ${hit.map((s) => (i === 2 ? s.step.identifier : s.job.identifier)).join(", ")}`,
      );
    }
    return hit;
  }
  throw usageError(
    `${label} has no step or job "${ref}"`,
    `Steps: ${all.map((s) => `${s.step.identifier} (${stepPath(s)}, job ${s.job.identifier})`).join(", ")}`,
  );
}
