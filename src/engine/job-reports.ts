// What a runner tells the engine about a job it holds (the embedded runner and remote agents
// alike): a step started, a step ended, the job ended. Every report is fenced by the job's
// attempt, so a runner that lost the job cannot change what its successor does.

import type { JobOutcome } from "../runner/job.js";
import type { JobRunRecord, RunChanges, RunGraph } from "../store/run-records.js";
import { enterNextStep } from "./plan.js";

/** The job's end as its runner reports it; null when that attempt no longer holds the job. */
export function jobFinishedChanges(
  g: RunGraph,
  job: Pick<JobRunRecord, "id" | "attempt" | "runner_id">,
  outcome: JobOutcome,
  now: number,
  nextSeq: () => number,
): RunChanges | null {
  const j = g.jobs.find((x) => x.id === job.id);
  // Fencing: a job that was stopped or handed to another attempt keeps its newer state.
  if (!j || j.status !== "RUNNING" || j.attempt !== job.attempt || j.runner_id !== job.runner_id) return null;
  if (outcome.status === "COMPLETED") {
    // The runner stops short of a step it does not execute (a manual review): go on from there.
    const jd = g.run.context.definition.stages[j.stage_idx]!.jobs[j.idx]!;
    const steps = g.steps.filter((s) => s.job_id === j.id).sort((a, b) => a.idx - b.idx);
    return enterNextStep({ ...j, next_step: outcome.nextStep }, jd, steps, now, nextSeq);
  }
  return {
    jobs: [
      {
        id: j.id,
        status: outcome.status,
        message: outcome.message,
        next_step: outcome.nextStep,
        end_time: now,
      },
    ],
  };
}
