// The in-process runner's slots: claims ready jobs when a slot is free, runs them on the local
// JobRunner, and reports their progress through the same fenced reports remote agents use.
// Each job's `done` settles once the runner is through with it (processes gone, workspace handled).

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { JobOutcome, JobReporter, JobRunner } from "../runner/job.js";
import type { ClaimedJob, JobRunRecord } from "../store/run-records.js";
import type { JobQueueStore, RunStore } from "../store/store.js";
import { type AssignmentLimits, buildAssignment } from "./assignment.js";
import type { JobReports } from "./job-reports.js";
import type { LogHub } from "./log-hub.js";
import type { LocalJobs } from "./run-commands.js";
import type { Wakeups } from "./run-writer.js";

export interface LocalDispatchConfig extends AssignmentLimits {
  /** Jobs the local runner executes at once. */
  readonly slots: number;
  /** Identifies this process's local runner in job rows (restart recovery finds its jobs by it). */
  readonly runnerId: string;
  readonly leaseMs: number;
}

export interface LocalDispatch extends LocalJobs {
  /** Claims ready jobs for the free slots and starts them. */
  fill(): Promise<void>;
  /** Keeps the leases of the running jobs alive; a job whose lease is gone is cut short. */
  renewLeases(): Promise<void>;
  /**
   * Takes no new jobs and waits for the running ones to finish (drain); with force, cuts them
   * short first and leaves them RUNNING for restart recovery to finish.
   */
  stop(opts?: { force?: boolean }): Promise<void>;
  /** Jobs executing now. */
  readonly running: number;
}

interface ActiveJob {
  readonly controller: AbortController;
  readonly runId: string;
  readonly attempt: number;
  readonly done: Promise<void>;
}

export function createLocalDispatch(deps: {
  readonly store: RunStore & JobQueueStore;
  readonly runner: JobRunner;
  readonly reports: JobReports;
  /** Tells what remembers runs that a claim changed them. */
  readonly claimed: (jobs: readonly ClaimedJob[]) => void;
  readonly logs: LogHub;
  readonly wake: Wakeups;
  readonly logger: Logger;
  readonly now: () => number;
  readonly clock: Clock;
  readonly config: LocalDispatchConfig;
}): LocalDispatch {
  const { store, runner, reports, logs, wake, logger, now, config } = deps;
  const forcedStop = new AbortController();

  /**
   * Writes a job's progress until it is stored: a step or a job that ended while the disk was
   * full (or the database away) is recorded when it is back, not lost and run again later. The
   * job stays in `active` meanwhile, so its lease goes on being renewed.
   */
  async function persist<T>(what: string, jobId: string, write: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (forced) return undefined;
        logger.error({ err, job: jobId }, `${what} failed; trying again`);
        await deps.clock.sleep(Math.min(5000, 250 * 2 ** attempt), forcedStop.signal);
        if (forced) return undefined;
      }
    }
  }
  const active = new Map<string, ActiveJob>();
  let stopped = false;
  /** Set by a forced stop: jobs cut short then are left RUNNING for restart recovery to finish. */
  let forced = false;

  async function execute(job: JobRunRecord, controller: AbortController): Promise<void> {
    // The claim stamped the job's start; only the run's own status may still need to follow.
    const [run, steps] = await Promise.all([
      store.getRun(job.run_id),
      store.getStepsOfJob(job.run_id, job.id),
    ]);
    if (!run) return;
    if (run.status === "QUEUED") wake.run(job.run_id);
    const reporter: JobReporter = {
      async stepStarted(stepId) {
        logs.open(stepId, 0);
        const held = await persist("recording a step's start", job.id, () =>
          reports.stepStarted(job, stepId),
        );
        if (held === false) controller.abort();
      },
      stepProcess(_stepId, pgid) {
        void store.setJobPgid(job.id, job.attempt, pgid).catch((err: unknown) => {
          logger.warn({ err, job: job.id }, "recording a step's process group failed");
        });
      },
      stepOutput(stepId, text) {
        logs.append(stepId, text);
      },
      async stepFinished(stepId, status, message) {
        await logs.close(stepId);
        if (forced) return;
        await persist("recording a step's end", job.id, () =>
          reports.stepFinished(job, stepId, status, message),
        );
      },
    };
    const outcome = await runner
      .runJob(buildAssignment(run, job, steps, config), reporter, controller.signal)
      .catch((err: unknown): JobOutcome => {
        logger.error({ err, job: job.id }, "runner failed");
        return {
          status: "FAILED",
          nextStep: job.next_step,
          message: `runner error: ${(err as Error).message}`,
        };
      });
    if (!forced) await persist("recording a job's end", job.id, () => reports.jobFinished(job, outcome));
  }

  function launch(job: JobRunRecord): void {
    const controller = new AbortController();
    const entry: ActiveJob = {
      controller,
      runId: job.run_id,
      attempt: job.attempt,
      done: execute(job, controller)
        .catch((err: unknown) => logger.error({ err, job: job.id }, "recording a job's end failed"))
        .finally(() => {
          // A later attempt of the same job may have taken the slot's entry meanwhile.
          if (active.get(job.id) === entry) active.delete(job.id);
          wake.dispatch();
        }),
    };
    active.set(job.id, entry);
  }

  return {
    async fill() {
      while (!stopped && active.size < config.slots) {
        const claimed = await store.claimJobs({
          runnerId: config.runnerId,
          limit: config.slots - active.size,
          labels: [],
          now: now(),
          leaseMs: config.leaseMs,
        });
        if (claimed.length === 0) return;
        deps.claimed(claimed);
        for (const job of claimed) launch(job);
      }
    },

    async renewLeases() {
      const until = now() + config.leaseMs;
      for (const [jobId, a] of active) {
        if (!(await store.renewLease(jobId, a.attempt, until))) a.controller.abort();
      }
    },

    abortRun(runId) {
      for (const a of active.values()) if (a.runId === runId) a.controller.abort();
    },

    async settled(runId) {
      await Promise.all([...active.values()].filter((a) => a.runId === runId).map((a) => a.done));
    },

    get running() {
      return active.size;
    },

    async stop(opts) {
      stopped = true;
      if (opts?.force) {
        forced = true;
        forcedStop.abort();
        for (const { controller } of active.values()) controller.abort();
      }
      await Promise.all([...active.values()].map((a) => a.done));
    },
  };
}
