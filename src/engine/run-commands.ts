// What a user does to a run once it exists: stop it, retry it, or delete its pipeline with it.
// The changes themselves are pure functions of the run's records (unit-tested); the use cases
// apply them through the run writer and tell the runners whose jobs were cut short.

import { PipewrightError } from "../errors.js";
import type { NodeStatus } from "../pipeline/vocabulary.js";
import { TERMINAL_NODE_STATUSES, TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { JobAttemptRecord, RunChanges, RunGraph } from "../store/run-records.js";
import type { PipelineStore, RunStore } from "../store/store.js";
import type { RunWriter, Wakeups } from "./run-writer.js";
import type { JobToCancel } from "./runner-protocol.js";

/**
 * Cancels the run and every node of it that has not ended, saying why (default: `stopped by
 * <who>`). Throws when the run has ended.
 */
export function stopChanges(g: RunGraph, who: string, now: number, why?: string): RunChanges {
  if (TERMINAL_RUN_STATUSES.has(g.run.status)) {
    throw new PipewrightError("RUN_NOT_STOPPABLE", `Run ${g.run.id} has already ended (${g.run.status}).`);
  }
  const message = why ?? `stopped by ${who}`;
  const cancel = <T extends { id: string; status: NodeStatus }>(xs: readonly T[]) =>
    xs
      .filter((x) => !TERMINAL_NODE_STATUSES.has(x.status))
      .map((x) => ({ id: x.id, status: "CANCELED" as const, end_time: now }));
  return {
    run: { id: g.run.id, status: "CANCELED", stop_requested: true, end_time: now, message, update_time: now },
    stages: cancel(g.stages),
    jobs: cancel(g.jobs).map((j) => ({ ...j, message })),
    steps: cancel(g.steps).map((s) => ({ ...s, message, deadline: null })),
  };
}

/**
 * Puts a FAILED or CANCELED run back in the queue: the stages that did not complete, their jobs
 * that did not complete, and all steps of those jobs start again; completed work is kept.
 * Throws when the run is not retryable.
 */
export function retryChanges(
  g: RunGraph,
  now: number,
  nextSeq: () => number,
  newId: () => string,
): RunChanges {
  const runId = g.run.id;
  if (g.run.status !== "FAILED" && g.run.status !== "CANCELED") {
    throw new PipewrightError(
      "RUN_NOT_RETRYABLE",
      `Run ${runId} is ${g.run.status}; only FAILED or CANCELED runs can be retried.`,
    );
  }
  if (g.run.start_status === "START_FAILED") {
    throw new PipewrightError(
      "RUN_NOT_RETRYABLE",
      `Run ${runId} never started (${g.run.start_reason}); start a new run instead.`,
    );
  }
  const resetStages = g.stages.filter((s) => s.status !== "COMPLETED" && s.status !== "UNSELECTED");
  const stageIdx = new Set(resetStages.map((s) => s.idx));
  const resetJobs = g.jobs.filter(
    (j) => stageIdx.has(j.stage_idx) && j.status !== "COMPLETED" && j.status !== "UNSELECTED",
  );
  const jobIds = new Set(resetJobs.map((j) => j.id));
  const resetSteps = g.steps.filter((s) => jobIds.has(s.job_id));
  const init = { status: "INIT" as const, start_time: 0, end_time: 0 };
  // A job that ran is kept as it ended, with its steps and their logs; it runs again as its next
  // attempt. One that never started (its stage did not get to it) keeps its attempt number.
  const ran = resetJobs.filter((j) => j.start_time > 0);
  const keepAttempts: JobAttemptRecord[] = ran.map((j) => ({
    id: newId(),
    run_id: runId,
    job_id: j.id,
    attempt: j.run_attempt,
    status: j.status,
    message: j.message,
    start_time: j.start_time,
    end_time: j.end_time,
    steps: resetSteps
      .filter((s) => s.job_id === j.id)
      .map((s) => ({
        id: newId(),
        step_id: s.id,
        idx: s.idx,
        status: s.status,
        message: s.message,
        start_time: s.start_time,
        end_time: s.end_time,
        log_bytes: s.log_bytes,
      })),
  }));
  const ranIds = new Set(ran.map((j) => j.id));
  return {
    run: {
      id: runId,
      status: "QUEUED",
      admitted: false,
      queue_seq: nextSeq(),
      end_time: 0,
      stop_requested: false,
      message: null,
      update_time: now,
    },
    stages: resetStages.map((s) => ({ id: s.id, ...init })),
    jobs: resetJobs.map((j) => ({
      id: j.id,
      ...init,
      message: null,
      next_step: 0,
      runner_id: null,
      lease_expires: null,
      ...(ranIds.has(j.id) ? { run_attempt: j.run_attempt + 1 } : {}),
    })),
    steps: resetSteps.map((s) => ({
      id: s.id,
      ...init,
      message: null,
      deadline: null,
      log_bytes: 0,
      outputs: [],
      approvals: [],
    })),
    // Kept attempts take their logs along; a step of a job that never started has none.
    keepAttempts,
  };
}

/** The jobs of a run that a runner is executing now. */
const runningJobs = (g: RunGraph): JobToCancel[] =>
  g.jobs
    .filter((j) => j.status === "RUNNING" && j.runner_id !== null)
    .map((j) => ({ id: j.id, attempt: j.attempt, runnerId: j.runner_id! }));

export interface RunCommands {
  /** `why` replaces the run's message (`stopped by <who>`). */
  stopRun(runId: string, who: string, why?: string): Promise<void>;
  retryRun(runId: string, who: string): Promise<void>;
  /** Stops the pipeline's unfinished runs (none of their processes outlives it), then deletes it. */
  deletePipeline(pipelineId: string, who: string): Promise<void>;
}

export function createRunCommands(deps: {
  readonly store: RunStore & PipelineStore;
  readonly writer: RunWriter;
  readonly wake: Wakeups;
  /** Tells the runners of jobs a stop cut short, and waits until they are through with them. */
  readonly cancel: (jobs: readonly JobToCancel[]) => Promise<void>;
  readonly now: () => number;
  readonly newId: () => string;
}): RunCommands {
  const { store, writer, wake, now } = deps;

  /**
   * Cancels the run, then tells the runners of its running jobs (over their job streams) and waits
   * until they report those jobs ended, their processes gone, so the answer means what it says.
   * A runner that does not answer in time learns of the stop from its next report (fenced out).
   */
  async function stopRun(runId: string, who: string, why?: string): Promise<void> {
    let running: JobToCancel[] = [];
    const g = await writer.mutate(runId, (graph) => {
      running = runningJobs(graph);
      return stopChanges(graph, who, now(), why);
    });
    if (!g) return;
    await deps.cancel(running);
    // A sub-pipeline step's child run is part of the work stopped: it stops too (and its own).
    for (const child of await store.childRunsOf(runId)) {
      if (TERMINAL_RUN_STATUSES.has(child.status)) continue;
      await stopRun(child.id, who, `stopped with its parent run (${why ?? `stopped by ${who}`})`).catch(
        (err: unknown) => {
          if (!(err instanceof PipewrightError && err.key === "RUN_NOT_STOPPABLE")) throw err;
        },
      );
    }
  }

  return {
    stopRun,

    async retryRun(runId, who) {
      // A stopped job's runner may still be winding down (killing its processes, removing its
      // workspace, closing its step logs): the new attempt uses the same workspace and step ids.
      const current = await store.getRun(runId);
      if (current && TERMINAL_RUN_STATUSES.has(current.status)) {
        const g = await store.getRunGraph(runId);
        const stopped = (g?.jobs ?? []).filter((j) => j.status === "CANCELED" && j.runner_id !== null);
        await deps.cancel(stopped.map((j) => ({ id: j.id, attempt: j.attempt, runnerId: j.runner_id! })));
      }
      // Child runs that failed or were stopped are retried first (their own failed jobs again,
      // in the same child run), so that the parent's sub-pipeline steps, started again, wait for
      // them rather than read their old result. A completed child is kept: its step completes.
      const children = await store.childRunsOf(runId);
      if (current && (current.status === "FAILED" || current.status === "CANCELED")) {
        for (const child of children) {
          if (child.status !== "FAILED" && child.status !== "CANCELED") continue;
          if (child.start_status === "START_FAILED") continue;
          await this.retryRun(child.id, who);
        }
      }
      await writer.mutate(runId, (g) => retryChanges(g, now(), writer.nextSeq, deps.newId));
      wake.waiting();
    },

    async deletePipeline(pipelineId, who) {
      for (const runId of await store.listActiveRunIds(pipelineId)) {
        await stopRun(runId, who).catch((err: unknown) => {
          if (!(err instanceof PipewrightError && err.key === "RUN_NOT_STOPPABLE")) throw err;
        });
      }
      await store.deletePipeline(pipelineId);
    },
  };
}
