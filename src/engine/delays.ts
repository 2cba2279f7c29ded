// Delays and suspensions (CodeArts's DelayedExecution and PipelineSuspension): a delay step
// waits on the server until its deadline (stored on the step, so a restart keeps it; the review
// timer fires it, review.ts), and someone may end it early (delay-pass), fail it (delay-refuse)
// or extend it by an hour (delay, at most LIMITS.delayExtensions times). A suspension step holds
// the run SUSPEND until someone resumes it. Pure change builders; the engine writes them.

import { PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { delaySeconds } from "../pipeline/task-inputs.js";
import { DELAY_TASK, SUSPEND_TASK } from "../pipeline/vocabulary.js";
import type { RunChanges, RunGraph } from "../store/run-records.js";
import { mergeChanges } from "./graph.js";
import { reviewChanges } from "./review.js";

export const DELAY_ACTIONS = ["delay-pass", "delay-refuse", "delay", "resume"] as const;
export type DelayAction = (typeof DELAY_ACTIONS)[number];

/** What one `delay` adds to the wait (CodeArts: "Delaying the Execution for One Hour"). */
export const DELAY_EXTENSION_MS = 3600 * 1000;

export function delayActionChanges(
  g: RunGraph,
  jobRunId: string,
  stepRunId: string,
  action: DelayAction,
  who: string,
  now: number,
  nextSeq: () => number,
): RunChanges {
  const step = g.steps.find((s) => s.id === stepRunId);
  const job = g.jobs.find((j) => j.id === jobRunId);
  if (!step || !job || step.job_id !== job.id) {
    throw new PipewrightError("JOB_NOT_FOUND", `No step ${stepRunId} of job ${jobRunId} in run ${g.run.id}.`);
  }
  if (action === "resume") {
    if (step.task !== SUSPEND_TASK || step.status !== "SUSPEND") {
      throw new PipewrightError(
        "STEP_NOT_SUSPENDED",
        `Step ${stepRunId} is ${step.status}, not a pipeline suspension waiting to be resumed.`,
      );
    }
    return reviewChanges(g, job, step.id, "pass", `resumed by ${who}`, now, nextSeq);
  }
  if (step.task !== DELAY_TASK || step.status !== "PAUSED") {
    throw new PipewrightError(
      "STEP_NOT_DELAYED",
      `Step ${stepRunId} is ${step.status}, not a delayed execution waiting.`,
    );
  }
  if (action === "delay-pass")
    return reviewChanges(g, job, step.id, "pass", `delay ended by ${who}`, now, nextSeq);
  if (action === "delay-refuse") {
    return reviewChanges(g, job, step.id, "refuse", `delay refused by ${who}`, now, nextSeq);
  }
  // The extensions so far follow from the stored deadline: the wait it began with, plus an hour each.
  const settings = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!.steps[step.idx]!;
  const base = step.start_time + delaySeconds(settings) * 1000;
  const used = Math.max(0, Math.round(((step.deadline ?? base) - base) / DELAY_EXTENSION_MS));
  if (used >= LIMITS.delayExtensions) {
    throw new PipewrightError(
      "DELAY_EXTENSIONS_USED",
      `Step ${stepRunId} was already extended ${used} times, the most allowed (limit delayExtensions).`,
    );
  }
  return mergeChanges(
    {},
    {
      steps: [
        {
          id: step.id,
          deadline: (step.deadline ?? base) + DELAY_EXTENSION_MS,
          message: `delay extended by an hour by ${who} (${used + 1} of ${LIMITS.delayExtensions})`,
        },
      ],
    },
  );
}
