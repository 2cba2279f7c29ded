// The engine: the use cases every caller goes through (HTTP today; triggers, sub-pipelines and
// the runner process next) — batch run, run one, stop, retry, review, delete a pipeline, and the
// runner protocol — wired here from their parts, with an explicit start and a draining stop.
// The store is the source of truth; this object only caches what it is executing right now.

import crypto from "node:crypto";
import type { Logger } from "pino";
import type { Clock, Timer } from "../clock.js";
import type { RunPolicy } from "../pipeline/environment.js";
import type { BlobStore } from "../store/blobs.js";
import type { RunRecord } from "../store/run-records.js";
import type { Store } from "../store/store.js";
import { isDatabaseUnreachable } from "../store/unreachable.js";
import { admitWaitingRuns } from "./admission.js";
import { type Artifacts, createArtifacts } from "./artifacts.js";
import { type Caches, createCaches } from "./caches.js";
import { type CodeEvents, createCodeEvents } from "./code-events.js";
import type { Executor } from "./create-runs.js";
import { type DelayAction, delayActionChanges } from "./delays.js";
import { expireLeases } from "./leases.js";
import type { LogHub } from "./log-hub.js";
import type { HttpOptions, HttpOutcome, Mailer } from "./notice-transport.js";
import { createNoticeSender, createRunNotices } from "./notices.js";
import { createPoller } from "./polling.js";
import { createPump } from "./pump.js";
import { interruptedChanges, recoverAfterRestart } from "./recovery.js";
import { createRetention, type Retention, type RetentionPolicy } from "./retention.js";
import { createReviews, type ReviewDecision } from "./review.js";
import { createRunCommands } from "./run-commands.js";
import { createRunEvents, createRunWriter, type RunEvents, type Wakeups } from "./run-writer.js";
import { createRunnerProtocol, type RunnerProtocol } from "./runner-protocol.js";
import { createScheduler } from "./schedules.js";
import {
  type BatchRunRequest,
  type BatchRunResult,
  createStartRuns,
  type RunOneRequest,
} from "./start-runs.js";
import { createSubpipelines } from "./subpipelines.js";
import { createSuperseder } from "./supersede.js";

export interface EngineConfig {
  readonly maxLogBytes: number;
  readonly defaultJobTimeoutSeconds: number;
  /**
   * The runner id of the in-process runner of earlier versions (`local:<host>:<data dir>`): jobs
   * it held when that server stopped died with it, and are finished as interrupted at start.
   */
  readonly legacyRunnerId: string;
  /** A job's lease: a runner that does not renew it within this time has lost the job. */
  readonly leaseMs: number;
  /** How often every replica looks for expired leases, waiting runs and work queued elsewhere. */
  readonly sweepMs: number;
  /** How often an idle job stream looks at the queue without a wakeup (1 s by default). */
  readonly pollMs?: number;
  /** How often runners renew their leases (told at registration); 1 s by default. */
  readonly heartbeatMs?: number;
  readonly maxBatchSize: number;
  /** What runs may do beyond the defaults (local clones). */
  readonly policy: RunPolicy;
  /** The cap on one artifact, in bytes. */
  readonly maxArtifactBytes: number;
  /** What is kept how long (see retention.ts). */
  readonly retention: RetentionPolicy;
  /** The cap on one cache entry, and on a project's entries in all (least recently used go). */
  readonly maxCacheBytes: number;
  readonly cacheQuotaBytes: number;
  /** Outbound notices: timeouts and which addresses they may reach. */
  readonly noticeHttp: HttpOptions;
}

/** How notices leave the server (notice-transport.ts), passed in by the composition root. */
export interface NoticeTransport {
  readonly post: (
    req: { url: string; headers: Readonly<Record<string, string>>; body: string },
    opts: HttpOptions,
  ) => Promise<HttpOutcome>;
  readonly mailer: Mailer | undefined;
  /** The UI's base URL for links in notices; "" for none. */
  readonly publicUrl: () => string;
}

export interface EngineDeps {
  readonly store: Store;
  /** Kills what is left of a legacy in-process runner's step group (see recovery.ts). */
  readonly reapLegacyGroup: (jobRunId: string, pgid: number) => void;
  readonly logs: LogHub;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly config: EngineConfig;
  /** Where artifacts' bytes live. */
  readonly blobs: BlobStore;
  readonly notices: NoticeTransport;
}

export interface ReviewRequest {
  readonly runId: string;
  /** Null for CodeArts's manual/pass form, which names only the step. */
  readonly jobRunId: string | null;
  readonly stepRunId: string;
  readonly decision: ReviewDecision;
  readonly who: Executor;
  /** What the reviewer wrote (approval_description). */
  readonly description?: string | undefined;
}

export interface DelayActionRequest {
  readonly runId: string;
  readonly jobRunId: string;
  readonly stepRunId: string;
  readonly action: DelayAction;
  readonly who: Executor;
}

export interface Engine {
  start(): Promise<void>;
  /** Stops dispatching: no job is handed out any more, job streams end. */
  stop(): Promise<void>;
  /**
   * The runner is known to be gone (its process died): its jobs' leases end now, and the lease
   * rules decide at once (dispatched again once, or failed).
   */
  runnerGone(runnerId: string): Promise<void>;
  /** The runner's running jobs fail as interrupted with `message` (a stop that could not wait). */
  interruptJobsOf(runnerId: string, message: string): Promise<number>;
  /** True once stop() was called: no job is handed out any more. */
  readonly stopping: boolean;
  /** Which runs changed, as they change in this process. */
  readonly events: RunEvents;

  batchRun(req: BatchRunRequest): Promise<BatchRunResult>;
  runOne(req: RunOneRequest): Promise<RunRecord>;
  stopRun(runId: string, who: string): Promise<void>;
  retryRun(runId: string, who: string): Promise<void>;
  review(req: ReviewRequest): Promise<void>;
  /** CodeArts's delay-pass, delay-refuse, delay (an hour more) on a delay step; resume on a suspension. */
  delayAction(req: DelayActionRequest): Promise<void>;
  deletePipeline(pipelineId: string, who: string): Promise<void>;
  /** For runner agents (the embedded one and remote ones alike). */
  readonly runners: RunnerProtocol;
  /** Webhook deliveries of code events (forges' pushes, tags and merge requests). */
  readonly codeEvents: CodeEvents;
  /** Artifacts of runs: runners upload and download them, users list and download them. */
  readonly artifacts: Artifacts;
  /** Caches of pipelines' jobs: runners restore and save them. */
  readonly caches: Caches;
  /** What is old goes (in the background of the sweep; `pass` runs one now). */
  readonly retention: Retention;
  /** Resolves when background work begun so far (polls, superseding, retention) has ended. */
  settled(): Promise<void>;
}

/** How long stopping a run waits for its runners to report that its jobs' processes are gone. */
const STOP_WAIT_MS = 10_000;

export function createEngine(deps: EngineDeps): Engine {
  const { store, logs, logger, clock, newId, config } = deps;
  const now = (): number => clock.now();
  const events = createRunEvents();
  const runNotices = createRunNotices(newId);

  // The parts refer to one another through the pump's wake-ups; the pump's tasks are bound below.
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
          const before = await store.getRun(runId);
          if (await store.failRun(runId, message, now())) {
            // Past the writer: its notices are written right after (not in the same transaction).
            const after = await store.getRun(runId);
            if (after) await runNotices.changed(store, before, after, now());
            writer.forget(runId);
            events.changed(runId);
            pump.admission();
            // A child run's end is its parent step's to follow.
            pump.subpipelines();
          }
        }
      },
      admit: () => admitWaitingRuns({ store, writer, now }),
      dispatch: async () => {
        runners.notifyWork();
      },
      scheduleReviews: () => reviews.schedule(),
      subpipelines: () => subpipelines.reconcile(),
    },
    { clock, logger },
  );
  // Jobs made ready here are told to the other processes on the database too (PostgreSQL's
  // replicas), whose job streams look at once rather than at their next poll. Every part that
  // makes jobs ready says so through wake.dispatch(), after its change committed. A wakeup from
  // elsewhere, and the sweep's look for work, mark the pump directly and tell nobody: two
  // replicas never wake each other back and forth.
  const ready = store.ready;
  const wake: Wakeups = ready
    ? {
        ...pump,
        dispatch() {
          pump.dispatch();
          ready.notify();
        },
      }
    : pump;
  const writer = createRunWriter({ store, clock, events, wake, notices: runNotices });
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
    writer,
    logs,
    wake,
    clock,
    newId,
    config: {
      ...limits,
      leaseMs: config.leaseMs,
      pollMs: config.pollMs,
      heartbeatMs: config.heartbeatMs,
      maxArtifactBytes: config.maxArtifactBytes,
      maxCacheBytes: config.maxCacheBytes,
    },
  });
  const caches = createCaches({
    store,
    blobs: deps.blobs,
    runners,
    maxBytes: config.maxCacheBytes,
    quotaBytes: config.cacheQuotaBytes,
    now,
  });
  const artifacts = createArtifacts({
    store,
    blobs: deps.blobs,
    runners,
    maxBytes: config.maxArtifactBytes,
    now,
  });
  const commands = createRunCommands({
    store,
    writer,
    wake,
    cancel: (jobs) => runners.cancel(jobs, STOP_WAIT_MS),
    now,
    newId,
  });
  const superseder = createSuperseder({ store, commands, logger });
  const start = createStartRuns({
    store,
    writer,
    events,
    wake,
    now,
    newId,
    maxBatchSize: config.maxBatchSize,
    policy: config.policy,
    superseding: (runs) => superseder.started(runs),
    notices: runNotices,
  });
  const noticeSender = createNoticeSender({
    store,
    now,
    newId,
    logger,
    http: config.noticeHttp,
    post: deps.notices.post,
    mailer: deps.notices.mailer,
    publicUrl: deps.notices.publicUrl,
  });

  const subpipelines = createSubpipelines({ store, writer, start, now, logger });

  let started = false;
  let stopped = false;
  let sweepTimer: Timer | undefined;
  let unsubscribe: (() => void) | undefined;

  const scheduler = createScheduler({ store, start, now, logger });
  const codeEvents = createCodeEvents({
    store,
    start,
    now,
    newId,
    newSecret: () => crypto.randomBytes(24).toString("base64url"),
    logger,
  });

  const poller = createPoller({
    store,
    codeEvents,
    now,
    logger,
    allowLocalClone: config.policy.allowLocalClone,
  });

  const retention = createRetention({ store, blobs: deps.blobs, policy: config.retention, now, logger });

  let sweeping: Promise<void> | undefined;
  /**
   * Set when a sweep could not reach the database. The runners' renewals failed as long as ours
   * did, so the first sweep that reaches it again gives every lease one lease period of grace
   * before it expires any: the runners' retried reports come first (issue 18 item 3).
   */
  let graceOwed = false;
  /**
   * Periodic duties of every replica: nothing here depends on events seen by this process. One
   * at a time: a sweep that outlasts the interval (a slow database) is not joined by the next.
   */
  function sweep(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (sweeping) return sweeping;
    sweeping = (async () => {
      try {
        if (graceOwed) {
          await store.graceLeases(now() + config.leaseMs);
          graceOwed = false;
          logger.warn(
            { grace_ms: config.leaseMs },
            "the database is back: leases renewed once for the runners",
          );
        }
        await expireLeases({ store, writer, wake, now });
        await reviews.expire();
        await subpipelines.reconcile();
        await scheduler.fireDue();
        await poller.pollDue();
        retention.due();
        noticeSender.due();
        pump.all();
      } catch (err) {
        if (isDatabaseUnreachable(err)) graceOwed = true;
        throw err;
      } finally {
        sweeping = undefined;
      }
    })();
    return sweeping;
  }

  return {
    events,
    runners,
    codeEvents,
    artifacts,
    caches,
    get stopping() {
      return stopped;
    },

    async start() {
      if (started) return;
      started = true;
      await recoverAfterRestart({
        store,
        writer,
        wake,
        reap: deps.reapLegacyGroup,
        runnerId: config.legacyRunnerId,
        logger,
        now,
      });
      // Runner agents could not renew their leases while no server answered: give them one lease
      // period to come back before their jobs count as lost.
      await store.graceLeases(now() + config.leaseMs);
      await reviews.expire();
      pump.start();
      unsubscribe = ready?.subscribe(() => pump.dispatch());
      sweepTimer = clock.setInterval(() => {
        sweep().catch((err: unknown) => logger.error({ err }, "sweep failed"));
      }, config.sweepMs);
    },

    async runnerGone(runnerId) {
      if ((await store.expireLeasesOf(runnerId, now())) > 0) {
        await expireLeases({ store, writer, wake, now });
      }
    },

    async interruptJobsOf(runnerId, message) {
      const jobs = await store.listRunningJobsOf(runnerId);
      for (const job of jobs) {
        await writer.mutate(job.run_id, (g) => interruptedChanges(g, job.id, message, now()));
      }
      return jobs.length;
    },

    async stop() {
      stopped = true;
      unsubscribe?.();
      pump.stop();
      reviews.stop();
      noticeSender.stop();
      sweepTimer?.cancel();
      runners.stop();
    },

    retention,
    async settled() {
      await sweeping;
      await poller.idle();
      await retention.idle();
      await noticeSender.idle();
      await superseder.idle();
    },
    batchRun: (req) => start.batchRun(req),
    runOne: (req) => start.runOne(req),
    stopRun: (runId, who) => commands.stopRun(runId, who),
    retryRun: (runId, who) => commands.retryRun(runId, who),
    deletePipeline: (pipelineId, who) => commands.deletePipeline(pipelineId, who),
    review: (req) =>
      reviews.decide(req.runId, req.jobRunId, req.stepRunId, req.decision, req.who, req.description),
    delayAction: (req) =>
      writer
        .mutate(req.runId, (g) =>
          delayActionChanges(g, req.jobRunId, req.stepRunId, req.action, req.who.name, now(), writer.nextSeq),
        )
        .then(() => undefined),
  };
}
