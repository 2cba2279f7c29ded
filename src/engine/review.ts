// Manual reviews (the checkpoint task): a reviewer passes or refuses the step a job waits at, or
// its timeout decides by the step's timeout_strategy. The decision is a pure change builder; the
// review timer fires at the earliest deadline, and the periodic sweep catches any it missed.

import type { Clock, Timer } from "../clock.js";
import { PipewrightError } from "../errors.js";
import { approvalSettings, checkpointSettings } from "../pipeline/task-inputs.js";
import { CHECKPOINT_TASK, DELAY_TASK, type NodeStatus } from "../pipeline/vocabulary.js";
import type { JobRunRecord, RunChanges, RunGraph } from "../store/run-records.js";
import type { RunStore } from "../store/store.js";
import { mergeChanges } from "./graph.js";
import { enterNextStep } from "./plan.js";
import type { RunWriter } from "./run-writer.js";

export type ReviewDecision = "pass" | "refuse";

/**
 * The step's decision: refused, the step and its job fail; passed, the step completes and the
 * job goes on with its next step (queued for a runner, or waiting at the next review).
 */
export function reviewChanges(
  g: RunGraph,
  job: JobRunRecord,
  stepId: string,
  decision: ReviewDecision,
  message: string,
  now: number,
  nextSeq: () => number,
): RunChanges {
  const step = {
    id: stepId,
    status: (decision === "pass" ? "COMPLETED" : "FAILED") as NodeStatus,
    message,
    end_time: now,
    deadline: null,
  };
  if (decision === "refuse") {
    return { steps: [step], jobs: [{ id: job.id, status: "FAILED", message, end_time: now }] };
  }
  const jd = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!;
  const steps = g.steps.filter((s) => s.job_id === job.id).sort((a, b) => a.idx - b.idx);
  const idx = steps.findIndex((s) => s.id === stepId);
  return mergeChanges(
    { steps: [step] },
    enterNextStep({ ...job, next_step: idx + 1 }, jd, steps, now, nextSeq),
  );
}

/** Who decides: the caller's credential id and name (a review's approvers name either). */
export interface Reviewer {
  readonly id: string;
  readonly name: string;
}

/**
 * A reviewer's decision on step `stepRunId` (of job `jobRunId`, or of whichever job it is in when
 * null: the manual/pass form names no job); throws when it is not waiting for one, or when the
 * review names its approvers and the caller is not one of them. With several approvers, a refusal
 * decides at once; a pass decides under `any`, and under `all` once every approver passed.
 */
export function decisionChanges(
  g: RunGraph,
  jobRunId: string | null,
  stepRunId: string,
  decision: ReviewDecision,
  who: Reviewer,
  now: number,
  nextSeq: () => number,
  /** What the reviewer wrote (CodeArts's approval_description), kept in the step's message. */
  description?: string,
): RunChanges {
  const step = g.steps.find((s) => s.id === stepRunId);
  const job = g.jobs.find((j) => j.id === (jobRunId ?? step?.job_id));
  if (!step || !job || step.job_id !== job.id) {
    throw new PipewrightError("JOB_NOT_FOUND", `No step ${stepRunId} of job ${jobRunId} in run ${g.run.id}.`);
  }
  if (step.task !== CHECKPOINT_TASK || step.status !== "PAUSED") {
    throw new PipewrightError(
      "STEP_NOT_WAITING",
      `Step ${stepRunId} is ${step.status}, not a manual review waiting for a decision.`,
    );
  }
  const settings = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!.steps[step.idx]!;
  const { approvers, strategy } = approvalSettings(settings);
  const as = approvers.find((a) => a === who.id || a === who.name);
  if (approvers.length > 0 && as === undefined) {
    throw new PipewrightError(
      "NOT_AN_APPROVER",
      `Step ${stepRunId} is reviewed by ${approvers.join(", ")}; ${who.name} is not one of them.`,
    );
  }
  const approver = as ?? who.name;
  if (step.approvals.some((a) => a.approver === approver)) {
    throw new PipewrightError("ALREADY_DECIDED", `${approver} already decided step ${stepRunId}.`);
  }
  const said = description?.trim() ?? "";
  const approvals = [...step.approvals, { approver, decision, description: said, time: now }];
  const message = `${decision === "pass" ? "approved" : "refused"} by ${who.name}${said ? `: ${said}` : ""}`;
  const waitingFor =
    decision === "pass" && strategy === "all"
      ? approvers.filter((a) => !approvals.some((x) => x.approver === a && x.decision === "pass"))
      : [];
  if (waitingFor.length > 0) {
    return {
      steps: [{ id: step.id, approvals, message: `${message}; waiting for ${waitingFor.join(", ")}` }],
    };
  }
  return mergeChanges(
    { steps: [{ id: step.id, approvals }] },
    reviewChanges(g, job, stepRunId, decision, message, now, nextSeq),
  );
}

/** A review nobody decided in time: its timeout_strategy decides. Null when it is not waiting any more. */
export function timeoutChanges(
  g: RunGraph,
  stepId: string,
  now: number,
  nextSeq: () => number,
): RunChanges | null {
  const step = g.steps.find((s) => s.id === stepId);
  if (!step || step.status !== "PAUSED") return null;
  const job = g.jobs.find((j) => j.id === step.job_id)!;
  if (step.task === DELAY_TASK) return reviewChanges(g, job, step.id, "pass", "delay elapsed", now, nextSeq);
  const settings = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!.steps[step.idx]!;
  const pass = checkpointSettings(settings).timeoutStrategy === "pass";
  const message = pass ? "approved: review timed out" : "refused: review timed out";
  return reviewChanges(g, job, step.id, pass ? "pass" : "refuse", message, now, nextSeq);
}

export interface Reviews {
  decide(
    runId: string,
    jobRunId: string | null,
    stepRunId: string,
    decision: ReviewDecision,
    who: Reviewer,
    description?: string,
  ): Promise<void>;
  /** Decides every review whose deadline has passed. */
  expire(): Promise<void>;
  /** Arms the timer for the earliest deadline still to come. */
  schedule(): Promise<void>;
  stop(): void;
}

export function createReviews(deps: {
  readonly store: RunStore;
  readonly writer: RunWriter;
  readonly clock: Clock;
  /** Called after the timer decided reviews (the pump takes it from there). */
  readonly onExpired: () => void;
  readonly onError: (err: unknown) => void;
}): Reviews {
  const { store, writer, clock } = deps;
  let timer: Timer | undefined;
  let stopped = false;

  async function expire(): Promise<void> {
    for (;;) {
      const next = await store.nextReviewDeadline();
      if (!next || next.deadline > clock.now()) return;
      await writer.mutate(next.run_id, (g) => timeoutChanges(g, next.step_id, clock.now(), writer.nextSeq));
    }
  }

  return {
    decide: async (runId, jobRunId, stepRunId, decision, who, description) => {
      await writer.mutate(runId, (g) =>
        decisionChanges(g, jobRunId, stepRunId, decision, who, clock.now(), writer.nextSeq, description),
      );
    },
    expire,
    async schedule() {
      const next = await store.nextReviewDeadline();
      timer?.cancel();
      timer = undefined;
      if (!next || stopped) return;
      timer = clock.setTimeout(
        () => {
          expire().then(deps.onExpired, deps.onError);
        },
        Math.max(0, next.deadline - clock.now()),
      );
    },
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
