// Restart recovery. Jobs run in runner processes that outlive the server: their leases carry them
// over a restart (the runner delivers what happened meanwhile). Only the in-process runner of
// earlier versions died with its server: the jobs it held are reaped and fail as interrupted.
// Every unfinished run is planned again so none stays stuck.

import type { Logger } from "pino";
import type { RunChanges, RunGraph } from "../store/run-records.js";
import type { JobQueueStore, RunStore } from "../store/store.js";
import type { RunWriter, Wakeups } from "./run-writer.js";

export const INTERRUPTED_MESSAGE = "interrupted by server restart";

/** The job fails as interrupted with its unfinished steps; null when it is not running any more. */
export function interruptedChanges(
  g: RunGraph,
  jobId: string,
  message: string,
  now: number,
): RunChanges | null {
  const j = g.jobs.find((x) => x.id === jobId);
  if (!j || j.status !== "RUNNING") return null;
  return {
    run: { id: g.run.id, message },
    jobs: [{ id: j.id, status: "FAILED", message, end_time: now }],
    steps: g.steps
      .filter((s) => s.job_id === j.id && (s.status === "RUNNING" || s.status === "QUEUED"))
      .map((s) => ({ id: s.id, status: "FAILED" as const, message, end_time: now })),
  };
}

export async function recoverAfterRestart(deps: {
  readonly store: RunStore & JobQueueStore;
  readonly writer: RunWriter;
  readonly wake: Wakeups;
  /** Kills what is left of a step's process group, if it is still that job's. */
  readonly reap: (jobRunId: string, pgid: number) => void;
  /** The legacy in-process runner's id. */
  readonly runnerId: string;
  readonly logger: Logger;
  readonly now: () => number;
}): Promise<void> {
  const { store, writer, wake, reap, logger, now } = deps;
  const orphans = await store.listRunningJobsOf(deps.runnerId);
  for (const job of orphans) {
    // The processes of a crashed server live on in their own groups: end them first.
    if (job.pgid !== null) reap(job.id, job.pgid);
    await writer.mutate(job.run_id, (g) => interruptedChanges(g, job.id, INTERRUPTED_MESSAGE, now()));
  }
  for (const id of await store.listActiveRunIds()) wake.run(id);
  if (orphans.length > 0)
    logger.warn({ jobs: orphans.length }, "failed jobs interrupted by a server restart");
}
