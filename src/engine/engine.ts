// The engine: the use cases every caller goes through (HTTP today; triggers, sub-pipelines and
// the runner process next) — batch run, run one, stop, retry, review, delete a pipeline, and the
// runner protocol — wired here from their parts, with an explicit start and a draining stop.
// The store is the source of truth; this object only caches what it is executing right now.

import type { Logger } from "pino";
import type { Clock, Timer } from "../clock.js";
import type { RunPolicy } from "../pipeline/environment.js";
import type { JobRunner } from "../runner/job.js";
import type { RunRecord } from "../store/run-records.js";
import type { Store } from "../store/store.js";
import { admitWaitingRuns } from "./admission.js";
import type { Executor } from "./create-runs.js";
import { createJobReports } from "./job-reports.js";
import { expireLeases } from "./leases.js";
import { createLocalDispatch, type LocalDispatch } from "./local-dispatch.js";
import type { LogHub } from "./log-hub.js";
import { createPump } from "./pump.js";
import { recoverAfterRestart } from "./recovery.js";
import { createReviews, type ReviewDecision } from "./review.js";
import { createRunCommands, type LocalJobs } from "./run-commands.js";
import { createRunEvents, createRunWriter, type RunEvents } from "./run-writer.js";
import { createRunnerProtocol, type RunnerProtocol } from "./runner-protocol.js";
import {
  type BatchRunRequest,
  type BatchRunResult,
  createStartRuns,
  type RunOneRequest,
} from "./start-runs.js";

export interface EngineConfig {
  /** Jobs the local runner executes at once. */
  readonly slots: number;
  readonly maxLogBytes: number;
  readonly defaultJobTimeoutSeconds: number;
  /** Identifies this process's local runner in job rows (restart recovery finds its jobs by it). */
  readonly runnerId: string;
  /** A job's lease: a runner that does not renew it within this time has lost the job. */
  readonly leaseMs: number;
  /** How often every replica looks for expired leases, waiting runs and work queued elsewhere. */
  readonly sweepMs: number;
  readonly maxBatchSize: number;
  /** What runs may do beyond the defaults (local clones). */
  readonly policy: RunPolicy;
}

export interface EngineDeps {
  readonly store: Store;
  /** The in-process runner; undefined when jobs run only on remote agents. */
  readonly runner: JobRunner | undefined;
  readonly logs: LogHub;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly config: EngineConfig;
}

export interface ReviewRequest {
  readonly runId: string;
  readonly jobRunId: string;
  readonly stepRunId: string;
  readonly decision: ReviewDecision;
  readonly who: Executor;
}

export interface Engine {
  start(): Promise<void>;
  /**
   * Stops dispatching and waits for the running jobs to finish (drain); with force, stops them
   * (their runs fail over to restart recovery, or are finished as interrupted at the next start).
   */
  stop(opts?: { force?: boolean }): Promise<void>;
  /**
   * The local runner takes no new job; resolves when its running jobs have finished. Everything
   * else goes on (runs are accepted and queued, stops and reviews apply, agents take jobs).
   */
  drain(): Promise<void>;
  /** Jobs the local runner executes now. */
  readonly localJobs: number;
  /** True once stop() was called: no job is handed out any more. */
  readonly stopping: boolean;
  /** Which runs changed, as they change in this process. */
  readonly events: RunEvents;

  batchRun(req: BatchRunRequest): Promise<BatchRunResult>;
  runOne(req: RunOneRequest): Promise<RunRecord>;
  stopRun(runId: string, who: string): Promise<void>;
  retryRun(runId: string, who: string): Promise<void>;
  review(req: ReviewRequest): Promise<void>;
  deletePipeline(pipelineId: string, who: string): Promise<void>;
  /** For remote runner agents. */
  readonly runners: RunnerProtocol;
}

/** Without a local runner there are no local jobs to stop or wait for. */
const NO_LOCAL_JOBS: LocalJobs = { abortRun: () => {}, settled: async () => {} };

export function createEngine(deps: EngineDeps): Engine {
  const { store, runner, logs, logger, clock, newId, config } = deps;
  const now = (): number => clock.now();
  const events = createRunEvents();

  // The parts refer to one another through the pump's wake-ups; the pump's tasks are bound below.
  let local: LocalDispatch | undefined;
  const pump = createPump(
    {
      advance: async (runId) => {
        try {
          await writer.mutate(runId, () => ({}));
        } catch (err) {
          // A run whose records cannot be planned (a definition stored before a check existed,
          // records damaged by hand) ends with a message rather than stopping the loop for all.
          logger.error({ err, run: runId }, "a run could not be planned; it is failed");
          const message = `the run could not be planned: ${(err as Error).message}`.slice(0, 1000);
          if (await store.failRun(runId, message, now())) {
            writer.forget(runId);
            events.changed(runId);
            pump.admission();
          }
        }
      },
      admit: () => admitWaitingRuns({ store, writer, now }),
      dispatch: async () => {
        runners.notifyWork();
        await local?.fill();
      },
      scheduleReviews: () => reviews.schedule(),
    },
    { clock, logger },
  );
  const writer = createRunWriter({ store, clock, events, wake: pump });
  const reports = createJobReports({ writer, now });
  const reviews = createReviews({
    store,
    writer,
    clock,
    onExpired: () => pump.all(),
    onError: (err) => logger.error({ err }, "expiring reviews failed"),
  });
  const limits = {
    maxLogBytes: config.maxLogBytes,
    defaultJobTimeoutSeconds: config.defaultJobTimeoutSeconds,
  };
  const runners = createRunnerProtocol({
    store,
    reports,
    claimed: (jobs) => writer.claimed(jobs),
    logs,
    wake: pump,
    clock,
    newId,
    config: { ...limits, leaseMs: config.leaseMs },
  });
  local = runner
    ? createLocalDispatch({
        store,
        runner,
        reports,
        claimed: (jobs) => writer.claimed(jobs),
        logs,
        wake: pump,
        logger,
        now,
        clock,
        config: { ...limits, slots: config.slots, runnerId: config.runnerId, leaseMs: config.leaseMs },
      })
    : undefined;
  const commands = createRunCommands({
    store,
    writer,
    wake: pump,
    local: local ?? NO_LOCAL_JOBS,
    now,
    newId,
  });
  const start = createStartRuns({
    store,
    writer,
    events,
    wake: pump,
    now,
    newId,
    maxBatchSize: config.maxBatchSize,
    policy: config.policy,
  });

  let started = false;
  let stopped = false;
  let sweepTimer: Timer | undefined;

  /** Periodic duties of every replica: nothing here depends on events seen by this process. */
  async function sweep(): Promise<void> {
    if (stopped) return;
    await local?.renewLeases();
    await expireLeases({ store, writer, wake: pump, now });
    await reviews.expire();
    pump.all();
  }

  return {
    events,
    runners,
    get stopping() {
      return stopped;
    },

    async start() {
      if (started) return;
      started = true;
      await recoverAfterRestart({
        store,
        writer,
        wake: pump,
        runner,
        runnerId: config.runnerId,
        logger,
        now,
      });
      // Runner agents could not renew their leases while no server answered: give them one lease
      // period to come back before their jobs count as lost.
      await store.graceLeases(now() + config.leaseMs);
      await reviews.expire();
      pump.start();
      sweepTimer = clock.setInterval(() => {
        sweep().catch((err: unknown) => logger.error({ err }, "sweep failed"));
      }, config.sweepMs);
    },

    drain: async () => {
      await local?.stop();
    },
    get localJobs() {
      return local?.running ?? 0;
    },

    async stop(opts) {
      stopped = true;
      pump.stop();
      reviews.stop();
      sweepTimer?.cancel();
      runners.stop();
      await local?.stop(opts);
    },

    batchRun: (req) => start.batchRun(req),
    runOne: (req) => start.runOne(req),
    stopRun: (runId, who) => commands.stopRun(runId, who),
    retryRun: (runId, who) => commands.retryRun(runId, who),
    deletePipeline: (pipelineId, who) => commands.deletePipeline(pipelineId, who),
    review: (req) => reviews.decide(req.runId, req.jobRunId, req.stepRunId, req.decision, req.who.name),
  };
}
