// The runner agents' side of the engine (`pipewright runner` over HTTP): register, long-poll for
// jobs, renew leases, report steps, logs and results. A runner belongs to the credential that
// registered it, and only that credential may act as it (else 403). Every report names the runner,
// the job and its attempt, and counts only while that attempt on that runner holds the job:
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

/** Who reports: the runner, and the credential the request was authenticated with. */
export interface RunnerCaller {
  readonly runnerId: string;
  readonly credentialId: string;
}

export interface RunnerRegistration {
  /** Sent again after a reconnect, so the runner keeps its identity. */
  readonly runnerId?: string | undefined;
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
}

export interface ClaimRequest extends RunnerCaller {
  readonly limit: number;
  readonly labels: readonly string[];
  /** How long to wait for work when none is ready (a long poll); 0 answers at once. */
  readonly waitMs: number;
  /** Aborts when the runner went away: jobs claimed for it meanwhile go back to the queue. */
  readonly signal: AbortSignal;
}

/** A report on a job: by whom, on which job and attempt. */
export interface JobReport extends RunnerCaller {
  readonly jobId: string;
  readonly attempt: number;
}

export interface RunnerProtocol {
  /** Registers (or, with `runnerId`, re-registers) a runner of the calling credential. */
  register(r: RunnerRegistration, credentialId: string): Promise<{ runnerId: string }>;
  /**
   * Up to `limit` ready jobs whose labels the runner has; throws when the runner is not
   * registered (400) or not the caller's (403).
   */
  claim(req: ClaimRequest): Promise<JobAssignment[]>;
  heartbeat(r: JobReport): Promise<boolean>;
  stepStarted(r: JobReport, stepId: string): Promise<boolean>;
  stepLog(r: JobReport, stepId: string, offset: number, text: string): Promise<boolean>;
  stepFinished(r: JobReport, stepId: string, status: StepResult, message: string | null): Promise<boolean>;
  jobFinished(r: JobReport, outcome: JobOutcome): Promise<boolean>;
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

  /** Which credential each runner belongs to (runners are few and never change hands). */
  const owners = new Map<string, string>();

  /** Throws unless the runner exists and belongs to the caller's credential. */
  async function checkOwner(caller: RunnerCaller): Promise<void> {
    let owner = owners.get(caller.runnerId);
    if (owner === undefined) {
      const runner = await store.getRunner(caller.runnerId);
      if (!runner) {
        throw new PipewrightError(
          "INVALID_REQUEST",
          `runner_id: runner ${caller.runnerId} is not registered; register again`,
        );
      }
      owner = runner.credential_id;
      owners.set(caller.runnerId, owner);
    }
    if (owner !== caller.credentialId) {
      throw new PipewrightError("NO_PERMISSION", `Runner ${caller.runnerId} belongs to another credential.`);
    }
  }

  /** The job as a remote runner names it, if that attempt on that runner still holds it. */
  async function jobKey(r: JobReport): Promise<JobKey | undefined> {
    await checkOwner(r);
    const job = await store.getJob(r.jobId);
    return job && job.attempt === r.attempt && job.status === "RUNNING" && job.runner_id === r.runnerId
      ? job
      : undefined;
  }

  return {
    notifyWork,

    stop() {
      stopped = true;
      notifyWork();
    },

    async register(r, credentialId) {
      if (r.runnerId !== undefined) {
        const known = await store.getRunner(r.runnerId);
        if (known && known.credential_id !== credentialId) {
          throw new PipewrightError("NO_PERMISSION", `Runner ${r.runnerId} belongs to another credential.`);
        }
      }
      const runnerId = r.runnerId ?? deps.newId();
      const t = clock.now();
      await store.upsertRunner({
        id: runnerId,
        credential_id: credentialId,
        name: r.name,
        labels: r.labels,
        slots: r.slots,
        version: r.version,
        create_time: t,
        last_seen: t,
      });
      owners.set(runnerId, credentialId);
      return { runnerId };
    },

    async claim(req) {
      await checkOwner(req);
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

    async heartbeat(r) {
      await checkOwner(r);
      return store.renewLease(r.jobId, r.attempt, clock.now() + config.leaseMs, r.runnerId);
    },

    async stepStarted(r, stepId) {
      const job = await jobKey(r);
      return job ? reports.stepStarted(job, stepId) : false;
    },

    async stepLog(r, stepId, offset, text) {
      await checkOwner(r);
      const ok = await store.appendLog(stepId, offset, text, {
        jobId: r.jobId,
        attempt: r.attempt,
        runnerId: r.runnerId,
      });
      if (ok) logs.publish(stepId, offset, text);
      return ok;
    },

    async stepFinished(r, stepId, status, message) {
      const job = await jobKey(r);
      if (!job) return false;
      const ok = await reports.stepFinished(job, stepId, status, message);
      logs.ended(stepId);
      return ok;
    },

    async jobFinished(r, outcome) {
      const job = await jobKey(r);
      return job ? reports.jobFinished(job, outcome) : false;
    },
  };
}
