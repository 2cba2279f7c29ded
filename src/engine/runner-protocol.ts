// The runner agents' side of the engine (`pipewright runner` over HTTP): register, long-poll for
// jobs, renew leases, report steps, logs and results. Every report names the job and its attempt;
// `false` tells the agent the job is no longer its own (stopped, or given to another runner).

import type { Clock } from "../clock.js";
import { PipewrightError } from "../errors.js";
import type { StepResult } from "../pipeline/vocabulary.js";
import type { JobAssignment, JobOutcome } from "../runner/job.js";
import type { ClaimedJob } from "../store/run-records.js";
import type { JobQueueStore, LogStore, RunStore } from "../store/store.js";
import { type AssignmentLimits, buildAssignment } from "./assignment.js";
import type { JobKey, JobReports } from "./job-reports.js";
import type { LogHub } from "./log-hub.js";
import type { Wakeups } from "./run-writer.js";

export interface RunnerRegistration {
  /** Sent again after a reconnect, so the runner keeps its identity. */
  readonly runnerId?: string | undefined;
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
}

export interface ClaimRequest {
  readonly runnerId: string;
  readonly limit: number;
  readonly labels: readonly string[];
  /** How long to wait for work when none is ready (a long poll); 0 answers at once. */
  readonly waitMs: number;
  /** Aborts when the runner went away: jobs claimed for it meanwhile go back to the queue. */
  readonly signal: AbortSignal;
}

export interface RunnerProtocol {
  register(r: RunnerRegistration): Promise<{ runnerId: string }>;
  /** Up to `limit` ready jobs whose labels the runner has; throws when the runner is not registered. */
  claim(req: ClaimRequest): Promise<JobAssignment[]>;
  heartbeat(jobId: string, attempt: number): Promise<boolean>;
  stepStarted(jobId: string, attempt: number, stepId: string): Promise<boolean>;
  stepLog(jobId: string, attempt: number, stepId: string, offset: number, text: string): Promise<boolean>;
  stepFinished(
    jobId: string,
    attempt: number,
    stepId: string,
    status: StepResult,
    message: string | null,
  ): Promise<boolean>;
  jobFinished(jobId: string, attempt: number, outcome: JobOutcome): Promise<boolean>;
  /** Wakes every waiting long poll: work may be ready. */
  notifyWork(): void;
  /** Long polls end and no job is handed out any more. */
  stop(): void;
}

/** A long poll looks at the queue at least this often, for work queued on other replicas. */
const POLL_MS = 1000;

export function createRunnerProtocol(deps: {
  readonly store: RunStore & JobQueueStore & LogStore;
  readonly reports: JobReports;
  /** Tells what remembers runs that a claim changed them. */
  readonly claimed: (jobs: readonly ClaimedJob[]) => void;
  readonly logs: LogHub;
  readonly wake: Wakeups;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly config: AssignmentLimits & { readonly leaseMs: number };
}): RunnerProtocol {
  const { store, reports, logs, wake, clock, config } = deps;
  const waiters = new Set<AbortController>();
  let stopped = false;

  function notifyWork(): void {
    for (const w of waiters) w.abort();
    waiters.clear();
  }

  async function claimNow(
    runnerId: string,
    limit: number,
    labels: readonly string[],
  ): Promise<JobAssignment[]> {
    if (stopped) return [];
    const claimed = await store.claimJobs({
      runnerId,
      limit,
      labels,
      now: clock.now(),
      leaseMs: config.leaseMs,
    });
    if (claimed.length > 0) deps.claimed(claimed);
    const out: JobAssignment[] = [];
    for (const job of claimed) {
      const [run, steps] = await Promise.all([
        store.getRun(job.run_id),
        store.getStepsOfJob(job.run_id, job.id),
      ]);
      if (!run) continue;
      if (run.status === "QUEUED") wake.run(job.run_id);
      out.push(buildAssignment(run, job, steps, config));
    }
    return out;
  }

  /** Resolves when work may have been queued here, after `ms`, or when `signal` aborts. */
  async function waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    if (stopped) return;
    const woken = new AbortController();
    waiters.add(woken);
    try {
      await clock.sleep(ms, AbortSignal.any([signal, woken.signal]));
    } finally {
      waiters.delete(woken);
    }
  }

  /** The job as a remote runner names it, if that attempt still holds it. */
  async function jobKey(jobId: string, attempt: number): Promise<JobKey | undefined> {
    const job = await store.getJob(jobId);
    return job && job.attempt === attempt && job.status === "RUNNING" ? job : undefined;
  }

  return {
    notifyWork,

    stop() {
      stopped = true;
      notifyWork();
    },

    async register(r) {
      const runnerId = r.runnerId ?? deps.newId();
      const t = clock.now();
      await store.upsertRunner({
        id: runnerId,
        name: r.name,
        labels: r.labels,
        slots: r.slots,
        version: r.version,
        create_time: t,
        last_seen: t,
      });
      return { runnerId };
    },

    async claim(req) {
      if (!(await store.touchRunner(req.runnerId, clock.now()))) {
        throw new PipewrightError(
          "INVALID_REQUEST",
          `runner_id: runner ${req.runnerId} is not registered; register again`,
        );
      }
      const deadline = clock.now() + req.waitMs;
      for (;;) {
        if (req.signal.aborted) return [];
        const jobs = await claimNow(req.runnerId, req.limit, req.labels);
        if (jobs.length > 0 && req.signal.aborted) {
          // The runner went away before it got them.
          await store.releaseJobs(jobs.map((j) => ({ id: j.jobRunId, attempt: j.attempt })));
          wake.dispatch();
          return [];
        }
        if (jobs.length > 0 || clock.now() >= deadline || stopped) return jobs;
        await waitForWork(Math.min(POLL_MS, deadline - clock.now()), req.signal);
      }
    },

    heartbeat: (jobId, attempt) => store.renewLease(jobId, attempt, clock.now() + config.leaseMs),

    async stepStarted(jobId, attempt, stepId) {
      const job = await jobKey(jobId, attempt);
      return job ? reports.stepStarted(job, stepId) : false;
    },

    async stepLog(jobId, attempt, stepId, offset, text) {
      const ok = await store.appendLog(stepId, offset, text, { jobId, attempt });
      if (ok) logs.publish(stepId, offset, text);
      return ok;
    },

    async stepFinished(jobId, attempt, stepId, status, message) {
      const job = await jobKey(jobId, attempt);
      if (!job) return false;
      const ok = await reports.stepFinished(job, stepId, status, message);
      logs.ended(stepId);
      return ok;
    },

    async jobFinished(jobId, attempt, outcome) {
      const job = await jobKey(jobId, attempt);
      return job ? reports.jobFinished(job, outcome) : false;
    },
  };
}
