// The runner agents' side of the engine (`pipewright runner` over HTTP): register, long-poll for
// jobs, renew leases, report steps, logs and results. A runner belongs to the credential that
// registered it, and only that credential may act as it (else 403). Every report names the runner,
// the job and its attempt, and counts only while that attempt on that runner holds the job:
// `false` tells the agent the job is no longer its own (stopped, or given to another runner).

import type { Clock, Timer } from "../clock.js";
import { PipewrightError } from "../errors.js";
import { jobOutputs, type StepOutput } from "../pipeline/outputs.js";
import type { StepResult } from "../pipeline/vocabulary.js";
import type { JobAssignment, JobOutcome } from "../runner/job.js";
import type { RunChanges, RunGraph } from "../store/run-records.js";
import type { JobQueueStore, LogStore, RunStore } from "../store/store.js";
import { type AssignmentLimits, buildAssignment, readsOutputs } from "./assignment.js";
import { applyChanges, mergeChanges } from "./graph.js";
import { jobFinishedChanges } from "./job-reports.js";
import { expireLeases } from "./leases.js";
import type { LogHub } from "./log-hub.js";
import type { RunWriter, Wakeups } from "./run-writer.js";

/** Who reports: the runner, and the credential the request was authenticated with. */
export interface RunnerCaller {
  readonly runnerId: string;
  readonly credentialId: string;
}

export interface RunnerRegistration {
  /** Sent again after a reconnect, and by a restarted agent, so the runner keeps its identity. */
  readonly runnerId?: string | undefined;
  /**
   * The process registers for the first time: it holds no job, so the jobs its runner id holds
   * (a previous process's, killed) are lost now rather than when their leases run out. Not sent
   * by a process registering again (after a server restart it still runs its jobs).
   */
  readonly fresh?: boolean | undefined;
  /**
   * With `fresh`: the jobs whose steps the previous process started (its step groups' records).
   * Their user code ran, so they count as lost by it even where no report of theirs arrived.
   */
  readonly ran?: readonly { readonly id: string; readonly attempt: number }[] | undefined;
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

/** A runner opens its job stream: what it can take now. */
export interface StreamRequest extends RunnerCaller {
  readonly labels: readonly string[];
  /** Free slots when it opened the stream. */
  readonly free: number;
  /** Jobs the runner has received over all its streams so far. */
  readonly received: number;
  /**
   * The jobs the runner holds: running, or with reports not yet answered. Its unconfirmed jobs
   * not named here were pushed and never received: they go back to the queue as the stream opens.
   */
  readonly holding?: readonly { readonly id: string; readonly attempt: number }[] | undefined;
}

/** The open stream as the protocol writes to it (an SSE answer). */
export interface RunnerChannel {
  send(event: string, data: unknown): void;
  /** Waits `ms`, or less when woken or the runner goes away. */
  wait(ms: number): Promise<void>;
  wake(): void;
  readonly signal: AbortSignal;
}

/** What a batch of reports tells besides the reports: the runner's free slots. */
export interface ReportMeta {
  readonly free?: number | undefined;
  readonly received?: number | undefined;
}

/** A job whose runner must stop working on it (its run was stopped). */
export interface JobToCancel {
  readonly id: string;
  readonly attempt: number;
  readonly runnerId: string;
}

/** What a runner tells about a job it holds; every report names the job and its attempt. */
export type RunnerReport =
  | { readonly type: "heartbeat"; readonly jobId: string; readonly attempt: number }
  | {
      readonly type: "step_started";
      readonly jobId: string;
      readonly attempt: number;
      readonly stepId: string;
    }
  | {
      readonly type: "step_log";
      readonly jobId: string;
      readonly attempt: number;
      readonly stepId: string;
      readonly offset: number;
      readonly text: string;
    }
  | {
      readonly type: "step_finished";
      readonly jobId: string;
      readonly attempt: number;
      readonly stepId: string;
      readonly status: StepResult;
      readonly message: string | null;
      /** What the step wrote to its outputs file (checked and masked by the runner). */
      readonly outputs?: readonly StepOutput[] | undefined;
    }
  | {
      readonly type: "job_finished";
      readonly jobId: string;
      readonly attempt: number;
      readonly outcome: JobOutcome;
    };

export interface RunnerProtocol {
  /**
   * Registers (or, with `runnerId`, re-registers) a runner of the calling credential; a fresh
   * process's registration ends the leases its runner id held (answers how many).
   */
  register(r: RunnerRegistration, credentialId: string): Promise<{ runnerId: string; previousJobs: number }>;
  /**
   * Up to `limit` ready jobs whose labels the runner has; throws when the runner is not
   * registered (400) or not the caller's (403).
   */
  claim(req: ClaimRequest): Promise<JobAssignment[]>;
  /**
   * A batch of reports, in the order the runner made them: heartbeats in one transaction, log
   * chunks in one, and each job's step and job reports folded into one change of its run. Answers,
   * per report, whether that attempt on that runner still held the job (false: it counted not).
   * Sending a batch again is harmless (a resent log chunk lands on itself; a resent end finds the
   * job ended and answers false).
   */
  report(caller: RunnerCaller, reports: readonly RunnerReport[], meta?: ReportMeta): Promise<boolean[]>;
  /**
   * The runner's job stream: jobs are pushed as slots are free and work is ready, and cancels
   * of jobs whose runs were stopped. Resolves when the stream closes; jobs pushed on it that the
   * runner never confirmed (a heartbeat) go back to the queue.
   */
  stream(req: StreamRequest, ch: RunnerChannel): Promise<void>;
  /** Throws unless the runner is registered and the caller's (before a stream opens). */
  checkRunner(caller: RunnerCaller): Promise<void>;
  /**
   * Tells the jobs' runners to stop working on them, and waits (at most `timeoutMs`) until each
   * has reported the job's end: its processes are gone then.
   */
  cancel(jobs: readonly JobToCancel[], timeoutMs: number): Promise<void>;
  /** How often runners renew their jobs' leases (the register answer tells them). */
  readonly heartbeatMs: number;
  /** Wakes every waiting long poll: work may be ready. */
  notifyWork(): void;
  /** Long polls end and no job is handed out any more. */
  stop(): void;
}

/** The change a step or job report makes; null when that attempt on that runner no longer holds it. */
export function reportChanges(
  g: RunGraph,
  runnerId: string,
  r: Exclude<RunnerReport, { type: "heartbeat" } | { type: "step_log" }>,
  now: number,
  nextSeq: () => number,
  leaseMs: number,
): RunChanges | null {
  const j = g.jobs.find((x) => x.id === r.jobId);
  if (!j || j.status !== "RUNNING" || j.attempt !== r.attempt || j.runner_id !== runnerId) return null;
  if (r.type === "job_finished") return jobFinishedChanges(g, j, r.outcome, now, nextSeq);
  // A step of another job is not the runner's to report on.
  const s = g.steps.find((x) => x.id === r.stepId);
  if (!s || s.job_id !== j.id) return null;
  if (r.type === "step_started") {
    // A step's start confirms the job (the runner has it) and renews its lease.
    return {
      jobs: [{ id: j.id, heartbeat_time: now, lease_expires: now + leaseMs }],
      steps: [{ id: s.id, status: "RUNNING", start_time: now }],
    };
  }
  return {
    steps: [
      {
        id: s.id,
        status: r.status,
        message: r.message,
        end_time: now,
        // A step that ran again (its job dispatched again) keeps nothing of the earlier try.
        outputs: r.outputs ?? [],
      },
    ],
  };
}

interface OpenStream {
  readonly ch: RunnerChannel;
  free: number;
  readonly receivedAtOpen: number;
  received: number;
  pushed: number;
  readonly cancels: { job_id: string; attempt: number }[];
}

/**
 * A long poll or job stream looks at the queue at least this often, for work queued on other
 * replicas that no wakeup told of (on PostgreSQL replicas tell each other: ReadySignal).
 */
const POLL_MS = 1000;

/** How often runners renew their jobs' leases unless configured; the lease is several times longer. */
const HEARTBEAT_MS = 1000;
/** The last_seen of each runner with a job stream open here is written this often. */
export const SEEN_MS = 10_000;
/** A runner not seen for this long is listed offline (GET /admin/v1/runners). */
export const ONLINE_MS = 3 * SEEN_MS;

export function createRunnerProtocol(deps: {
  readonly store: RunStore & JobQueueStore & LogStore;
  readonly writer: RunWriter;
  readonly logs: LogHub;
  readonly wake: Wakeups;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly config: AssignmentLimits & {
    readonly leaseMs: number;
    /** How often an idle job stream or long poll looks at the queue anyway; POLL_MS by default. */
    readonly pollMs?: number;
    readonly heartbeatMs?: number | undefined;
  };
}): RunnerProtocol {
  const { store, writer, logs, wake, clock, config } = deps;
  const pollMs = config.pollMs ?? POLL_MS;
  /**
   * The run of each job handed out here (reports name only the job); a job that never reports
   * its end (its runner was lost) is dropped once the map is full, and read again if it reports.
   */
  const runOfJob = new Map<string, string>();
  const rememberRun = (jobId: string, runId: string): void => {
    runOfJob.set(jobId, runId);
    if (runOfJob.size > 50_000) runOfJob.delete(runOfJob.keys().next().value!);
  };
  /** The open job stream of each runner connected here. */
  const streams = new Map<string, OpenStream>();
  /** Who waits for a job's end report (a stop that waits until its processes are gone). */
  const endWaiters = new Map<string, (() => void)[]>();
  /** Jobs whose end was reported here lately: a stop racing with their end does not wait. */
  const endedRecently = new Set<string>();
  const jobEnded = (jobId: string): void => {
    endedRecently.add(jobId);
    if (endedRecently.size > 10_000) endedRecently.delete(endedRecently.values().next().value!);
    const list = endWaiters.get(jobId);
    endWaiters.delete(jobId);
    for (const resolve of list ?? []) resolve();
  };
  const waiters = new Set<AbortController>();
  let stopped = false;
  /** Keeps last_seen of the runners connected here current (an idle stream sends nothing). */
  let seen: Timer | undefined;
  const touch = (runnerId: string): void => {
    store.touchRunner(runnerId, clock.now()).catch(() => {
      // the database is away: the next touch writes it
    });
  };

  function notifyWork(): void {
    for (const w of waiters) w.abort();
    waiters.clear();
    for (const st of streams.values()) st.ch.wake();
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
    if (claimed.length > 0) writer.claimed(claimed);
    const out: JobAssignment[] = [];
    for (const job of claimed) {
      // What the writer remembers of the run is current when it is of the version the claim
      // wrote; otherwise the run and the job's steps are read.
      const g = writer.remembered(job.run_id, job.run_version);
      const [run, steps] = g
        ? [g.run, g.steps.filter((s) => s.job_id === job.id).sort((a, b) => a.idx - b.idx)]
        : await Promise.all([store.getRun(job.run_id), store.getStepsOfJob(job.run_id, job.id)]);
      if (!run) continue;
      // The run turns RUNNING with its job's first report (planned then), not with the claim.
      rememberRun(job.id, job.run_id);
      let outputsOf: ((identifier: string) => Record<string, string> | undefined) | undefined;
      if (readsOutputs(run, job)) {
        // Inputs that read earlier jobs' outputs: the run's other jobs and steps are read too.
        const whole = g ?? (await store.getRunGraph(job.run_id));
        outputsOf = (identifier) => {
          const other = whole?.jobs.find((j) => j.identifier === identifier);
          if (!other) return undefined;
          return jobOutputs(whole!.steps.filter((s) => s.job_id === other.id).sort((a, b) => a.idx - b.idx));
        };
      }
      out.push(buildAssignment(run, job, steps, config, outputsOf));
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

  /**
   * Puts back in the queue the runner's unconfirmed jobs that it does not hold (pushed on a stream
   * that broke before they reached it), as it opens a stream: they do not count as lost.
   */
  async function releaseUnheld(
    runnerId: string,
    holding: readonly { readonly id: string; readonly attempt: number }[],
  ): Promise<void> {
    const held = new Set(holding.map((h) => `${h.id}/${h.attempt}`));
    const gone = (await store.listRunningJobsOf(runnerId)).filter(
      (j) => j.heartbeat_time === null && !held.has(`${j.id}/${j.attempt}`),
    );
    if (gone.length === 0) return;
    await store.releaseJobs(
      gone.map((j) => ({ id: j.id, attempt: j.attempt })),
      { unconfirmedOnly: true },
    );
    wake.dispatch();
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

  return {
    notifyWork,
    heartbeatMs: config.heartbeatMs ?? HEARTBEAT_MS,

    async checkRunner(caller) {
      await checkOwner(caller);
      if (!(await store.touchRunner(caller.runnerId, clock.now()))) {
        throw new PipewrightError(
          "INVALID_REQUEST",
          `runner_id: runner ${caller.runnerId} is not registered; register again`,
        );
      }
    },

    async stream(req, ch) {
      const st: OpenStream = {
        ch,
        free: req.free,
        receivedAtOpen: req.received,
        received: req.received,
        pushed: 0,
        cancels: [],
      };
      streams.get(req.runnerId)?.ch.wake();
      streams.set(req.runnerId, st);
      seen ??= clock.setInterval(() => {
        for (const id of streams.keys()) touch(id);
      }, SEEN_MS);
      try {
        // Inside: a failure (the database away) still ends the stream's entry here.
        await releaseUnheld(req.runnerId, req.holding ?? []);
        while (!ch.signal.aborted && !stopped && streams.get(req.runnerId) === st) {
          if (st.cancels.length > 0) ch.send("cancel", { jobs: st.cancels.splice(0) });
          // What the runner can take: its free slots as it last said, less what is on its way.
          const free = st.free - (st.pushed - (st.received - st.receivedAtOpen));
          if (free > 0) {
            const jobs = await claimNow(req.runnerId, free, req.labels);
            if (jobs.length > 0) {
              // Gone, or a newer stream of the runner took over: these would not reach it.
              if (ch.signal.aborted || streams.get(req.runnerId) !== st) {
                await store.releaseJobs(jobs.map((j) => ({ id: j.jobRunId, attempt: j.attempt })));
                wake.dispatch();
                break;
              }
              st.pushed += jobs.length;
              ch.send("jobs", { jobs });
              continue;
            }
          }
          await ch.wait(pollMs);
        }
      } finally {
        if (streams.get(req.runnerId) === st) {
          streams.delete(req.runnerId);
          // When it went: the moment it was last seen.
          touch(req.runnerId);
        }
        // Jobs pushed here that the runner has not confirmed stay its own: it may run them (a
        // step does not wait for its start to be confirmed). Its next stream names what it holds,
        // and the rest goes back to the queue then; a runner that never comes back loses them
        // by the lease rules.
      }
    },

    async cancel(jobs, timeoutMs) {
      const waits: Promise<void>[] = [];
      for (const j of jobs) {
        // Only a runner connected here can be told, and only a job whose end it has not reported
        // has an end to wait for.
        const st = streams.get(j.runnerId);
        if (!st || endedRecently.has(j.id)) continue;
        waits.push(
          new Promise<void>((resolve) => {
            const list = endWaiters.get(j.id);
            if (list) list.push(resolve);
            else endWaiters.set(j.id, [resolve]);
          }),
        );
        st.cancels.push({ job_id: j.id, attempt: j.attempt });
        st.ch.wake();
      }
      if (waits.length === 0) return;
      const timer = new AbortController();
      await Promise.race([Promise.all(waits), clock.sleep(timeoutMs, timer.signal)]);
      timer.abort();
      for (const j of jobs) endWaiters.delete(j.id);
    },

    stop() {
      stopped = true;
      seen?.cancel();
      notifyWork();
    },

    async register(r, credentialId) {
      if (r.runnerId !== undefined) {
        const known = await store.getRunner(r.runnerId);
        if (known && known.credential_id !== credentialId) {
          throw new PipewrightError(
            "RUNNER_OF_ANOTHER_CREDENTIAL",
            `runner_id: runner ${r.runnerId} belongs to another credential; register without runner_id for a new runner`,
          );
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
      let previousJobs = 0;
      if (r.fresh && r.runnerId !== undefined) {
        // A new process cannot hold what its predecessor did: the lease rules decide now, as for
        // a runner known to be dead (dispatched again once, then failed).
        const ran = new Set((r.ran ?? []).map((j) => `${j.id}/${j.attempt}`));
        if (ran.size > 0) {
          // Their starts may never have arrived: confirmed now, the lease rules count them. (An
          // attempt pushed on a stream that was already dead is not named: it was never run.)
          const started = (await store.listRunningJobsOf(runnerId)).filter(
            (j) => j.heartbeat_time === null && ran.has(`${j.id}/${j.attempt}`),
          );
          if (started.length > 0)
            await store.renewLeases(
              started.map((j) => ({ id: j.id, attempt: j.attempt })),
              clock.now(),
              runnerId,
            );
        }
        previousJobs = await store.expireLeasesOf(runnerId, clock.now());
        if (previousJobs > 0) await expireLeases({ store, writer, wake, now: () => clock.now() });
      }
      return { runnerId, previousJobs };
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
        await waitForWork(Math.min(pollMs, deadline - clock.now()), req.signal);
      }
    },

    async report(caller, reports, meta) {
      await checkOwner(caller);
      const st = streams.get(caller.runnerId);
      const held = reports.map(() => false);
      const beats: number[] = [];
      const chunks: number[] = [];
      const byJob = new Map<string, number[]>();
      reports.forEach((r, i) => {
        if (r.type === "heartbeat") beats.push(i);
        else if (r.type === "step_log") chunks.push(i);
        else {
          const list = byJob.get(r.jobId);
          if (list) list.push(i);
          else byJob.set(r.jobId, [i]);
        }
      });
      // Leases first (they confirm the jobs), then logs (a step's text before its end).
      if (beats.length > 0) {
        const jobs = beats.map((i) => ({ id: reports[i]!.jobId, attempt: reports[i]!.attempt }));
        const ok = await store.renewLeases(jobs, clock.now() + config.leaseMs, caller.runnerId);
        beats.forEach((i, k) => {
          held[i] = ok[k]!;
        });
      }
      if (chunks.length > 0) {
        const list = chunks.map((i) => reports[i] as Extract<RunnerReport, { type: "step_log" }>);
        const ok = await store.appendLogs(
          list.map((r) => ({
            stepId: r.stepId,
            offset: r.offset,
            text: r.text,
            fence: { jobId: r.jobId, attempt: r.attempt, runnerId: caller.runnerId },
          })),
        );
        chunks.forEach((i, k) => {
          held[i] = ok[k]!;
          const r = list[k]!;
          if (ok[k]) logs.publish(r.stepId, r.offset, r.text);
        });
      }
      await Promise.all(
        [...byJob].map(async ([jobId, idx]) => {
          let runId = runOfJob.get(jobId);
          if (runId === undefined) {
            // Handed out before this server started (or by another replica).
            runId = (await store.getJob(jobId))?.run_id;
            if (runId === undefined) return;
            rememberRun(jobId, runId);
          }
          await writer.mutate(runId, (g) => {
            let mid = g;
            let all: RunChanges | null = null;
            for (const i of idx) {
              const r = reports[i] as Parameters<typeof reportChanges>[2];
              const c = reportChanges(mid, caller.runnerId, r, clock.now(), writer.nextSeq, config.leaseMs);
              if (c === null) continue;
              held[i] = true;
              mid = applyChanges(mid, c);
              all = all === null ? c : mergeChanges(all, c);
            }
            return all;
          });
          for (const i of idx) {
            const r = reports[i]!;
            if (r.type === "step_finished") logs.ended(r.stepId);
            if (r.type === "job_finished") {
              runOfJob.delete(jobId);
              jobEnded(jobId);
            }
          }
        }),
      );
      // A count older than the one the stream has (built before the stream opened, or sent beside a
      // newer one) would give back slots the jobs received since then fill: the runner would be
      // pushed more jobs than it has slots.
      if (st && meta?.free !== undefined && meta.received !== undefined && meta.received >= st.received) {
        // The runner's own count: what it said is free, knowing all it had received.
        const before = st.free - (st.pushed - (st.received - st.receivedAtOpen));
        st.free = meta.free;
        st.received = Math.max(st.received, meta.received);
        const after = st.free - (st.pushed - (st.received - st.receivedAtOpen));
        if (after > before) st.ch.wake();
      }
      return held;
    },
  };
}
