// The scheduler: creates runs (single and batch), admits them under concurrency control, moves
// them along their stage/job graph, dispatches ready jobs to the runner, and applies stop, retry,
// manual review and restart recovery. Every change is written before it is acted on; the store
// is the source of truth and this object only caches what it is executing right now.

import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { PipewrightError } from "../errors.js";
import type { ConditionAst } from "../pipeline/condition.js";
import { parseDefinition } from "../pipeline/definition.js";
import type { Definition, NodeStatus } from "../pipeline/types.js";
import type { JobAssignment, JobOutcome, JobReporter, JobRunner } from "../runner/job.js";
import type { JobRunRecord, RunChanges, RunGraph, RunRecord } from "../store/run-records.js";
import type { PipelineRecord, Store } from "../store/store.js";
import {
  buildRunGraph,
  decideStart,
  type Executor,
  type RunOptions,
  resolveVariables,
  validateRunOptions,
} from "./create-runs.js";
import { applyChanges, isEmptyChanges, mergeChanges } from "./graph.js";
import type { LogHub } from "./log-hub.js";
import { enterNextStep, planRun, TERMINAL_NODE } from "./plan.js";

export interface SchedulerConfig {
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
}

export interface SchedulerDeps {
  readonly store: Store;
  /** The in-process runner; undefined when jobs run only on remote agents. */
  readonly runner: JobRunner | undefined;
  readonly logs: LogHub;
  readonly logger: Logger;
  readonly now: () => number;
  readonly newId: () => string;
  readonly config: SchedulerConfig;
}

export interface StartItem {
  readonly pipelineId: string;
  readonly options: RunOptions;
}

export interface BatchSpec {
  readonly key: string;
  readonly bodyHash: string;
  readonly projectId: string;
}

export type CreateRunsResult =
  | { readonly replayed: false; readonly runs: readonly RunRecord[] }
  | { readonly replayed: true; readonly response: string };

export interface Scheduler {
  start(): Promise<void>;
  /**
   * Stops dispatching and waits for the running jobs to finish (drain); with force, stops them
   * (their runs fail over to restart recovery, or are finished as interrupted at the next start).
   */
  stop(opts?: { force?: boolean }): Promise<void>;
  /**
   * Creates the runs in one transaction. With a batch, the answer built by `respond` is stored
   * under its Idempotency-Key in the same transaction, and a repeat returns it instead.
   */
  createRuns(
    items: readonly StartItem[],
    executor: Executor,
    batch?: { spec: BatchSpec; respond: (runs: readonly RunRecord[]) => string },
  ): Promise<CreateRunsResult>;
  stopRun(runId: string, who: string): Promise<void>;
  retryRun(runId: string, who: string): Promise<void>;
  review(
    runId: string,
    jobRunId: string,
    stepRunId: string,
    decision: "pass" | "refuse",
    who: Executor,
  ): Promise<void>;
  /** Emits "run" with a run id whenever one of its records changed. */
  readonly events: EventEmitter;
  /** True once stop() was called: no job is handed out any more. */
  readonly stopping: boolean;

  // For remote runner agents (all fenced by job id + attempt; false = the job is no longer theirs).
  /** Claims up to `limit` ready jobs for a remote runner. */
  claimForRunner(runnerId: string, limit: number, labels: readonly string[]): Promise<JobAssignment[]>;
  /** Resolves when work may have been queued here, or after `ms`, or when `signal` aborts. */
  waitForWork(ms: number, signal: AbortSignal): Promise<void>;
  renewLease(jobId: string, attempt: number): Promise<boolean>;
  /** Gives jobs claimed for a runner back (the runner went away before it got them). */
  releaseJobs(jobs: readonly JobAssignment[]): Promise<void>;
  reportStepStarted(jobId: string, attempt: number, stepId: string): Promise<boolean>;
  reportStepLog(
    jobId: string,
    attempt: number,
    stepId: string,
    offset: number,
    text: string,
  ): Promise<boolean>;
  reportStepFinished(
    jobId: string,
    attempt: number,
    stepId: string,
    status: "COMPLETED" | "FAILED" | "CANCELED",
    message: string | null,
  ): Promise<boolean>;
  reportJobFinished(jobId: string, attempt: number, outcome: JobOutcome): Promise<boolean>;
}

const FINISHED: ReadonlySet<string> = new Set(["COMPLETED", "FAILED", "CANCELED", "IGNORED"]);

/** A job this process is executing on its local runner. */
interface ActiveJob {
  readonly controller: AbortController;
  readonly runId: string;
  readonly attempt: number;
  done?: Promise<void>;
}

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { store, runner, logs, logger, now, newId, config } = deps;
  const events = new EventEmitter();
  events.setMaxListeners(0);
  /** `done` settles once the runner is through with the job (processes gone, workspace handled). */
  const active = new Map<string, ActiveJob>();
  const dirtyRuns = new Set<string>();
  let admissionDirty = true;
  let dispatchDirty = true;
  let pumping = false;
  let pumpScheduled = false;
  let stopped = false;
  /** Set by a forced stop: jobs cut short then are left RUNNING for restart recovery to finish. */
  let forced = false;
  let started = false;
  let reviewTimer: NodeJS.Timeout | undefined;
  const workWaiters: (() => void)[] = [];
  let sweepTimer: NodeJS.Timeout | undefined;
  const definitionCache = new Map<string, Definition>();
  const conditions = new Map<string, ConditionAst>();
  let lastSeq = 0;

  /** Strictly increasing, roughly wall-clock: orders ready jobs and waiting runs FIFO. */
  const nextSeq = (): number => {
    lastSeq = Math.max(lastSeq + 1, now() * 1000);
    return lastSeq;
  };

  function definitionOf(p: PipelineRecord): Definition {
    let def = definitionCache.get(p.definition);
    if (!def) {
      def = parseDefinition(p.definition);
      if (definitionCache.size >= 2000) definitionCache.clear();
      definitionCache.set(p.definition, def);
    }
    return def;
  }

  function kick(): void {
    if (stopped || !started || pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      void pump();
    });
  }

  /**
   * Reads a run, lets `change` decide what to write, adds what the scheduling rules derive from
   * that, and writes it all in one transaction. Answers the graph as written.
   */
  async function mutateRun(
    runId: string,
    change: (g: RunGraph) => RunChanges | null,
  ): Promise<RunGraph | undefined> {
    const result = await store.transaction(async (tx) => {
      const g = await tx.getRunGraphForUpdate(runId);
      if (!g) return undefined;
      const first = change(g);
      if (first === null) return undefined;
      const mid = applyChanges(g, first);
      const planned = planRun(mid, { now: now(), nextSeq, conditions });
      const all = mergeChanges(first, planned);
      if (isEmptyChanges(all)) return undefined;
      await tx.applyRunChanges(all);
      return { before: g, after: applyChanges(mid, planned), changes: all };
    });
    if (!result) return undefined;
    afterWrite(result.before, result.after, result.changes);
    return result.after;
  }

  function afterWrite(before: RunGraph, after: RunGraph, changes: RunChanges): void {
    if (!FINISHED.has(before.run.status) && FINISHED.has(after.run.status)) admissionDirty = true;
    if (changes.jobs?.some((j) => j.status === "QUEUED")) dispatchDirty = true;
    events.emit("run", after.run.id);
    kick();
  }

  async function advance(runId: string): Promise<void> {
    await mutateRun(runId, () => ({}));
  }

  async function admit(): Promise<void> {
    const waiting = await store.listWaitingRuns(1000);
    if (waiting.length === 0) return;
    const pipelines = new Map(
      (await store.getPipelines([...new Set(waiting.map((r) => r.pipeline_id))])).map((p) => [p.id, p]),
    );
    const counts = await store.countActiveRuns([...pipelines.keys()]);
    for (const run of waiting) {
      const p = pipelines.get(run.pipeline_id);
      const cc = p?.spec.concurrency_control;
      const c = counts.get(run.pipeline_id) ?? { admitted: 0, waiting: 0 };
      if (p && cc?.enable && c.admitted >= cc.concurrency_number) continue;
      c.admitted++;
      counts.set(run.pipeline_id, c);
      await mutateRun(run.id, (g) =>
        g.run.admitted || FINISHED.has(g.run.status)
          ? null
          : { run: { id: g.run.id, admitted: true, start_time: now() } },
      );
    }
  }

  async function dispatch(): Promise<void> {
    for (const w of workWaiters.splice(0)) w();
    if (!runner) return;
    while (!stopped && active.size < config.slots) {
      const claimed = await store.claimJobs({
        runnerId: config.runnerId,
        limit: config.slots - active.size,
        labels: [],
        now: now(),
        leaseMs: config.leaseMs,
      });
      if (claimed.length === 0) return;
      for (const job of claimed) await launch(job);
    }
  }

  async function launch(job: JobRunRecord): Promise<void> {
    const controller = new AbortController();
    const entry: ActiveJob = { controller, runId: job.run_id, attempt: job.attempt };
    active.set(job.id, entry);
    // The claim stamped the job's start; only the run's own status may still need to follow.
    const graph = await store.getRunGraph(job.run_id);
    if (!graph) {
      active.delete(job.id);
      return;
    }
    if (graph.run.status === "QUEUED") dirtyRuns.add(job.run_id);
    const assignment = buildAssignment(graph, job);
    const fence = { jobId: job.id, attempt: job.attempt };
    const reporter: JobReporter = {
      async stepStarted(stepId) {
        logs.open(stepId, 0);
        if (!(await recordStepStarted(job, stepId))) controller.abort();
      },
      stepProcess(_stepId, pgid) {
        void store.applyRunChanges({ jobs: [{ id: job.id, pgid }] }, fence).catch((err: unknown) => {
          logger.warn({ err, job: job.id }, "recording a step's process group failed");
        });
      },
      stepOutput(stepId, text) {
        logs.append(stepId, text);
      },
      async stepFinished(stepId, status, message) {
        await logs.close(stepId);
        if (forced) return;
        await recordStepFinished(job, stepId, status, message);
      },
    };
    entry.done = runner!
      .runJob(assignment, reporter, controller.signal)
      .catch((err: unknown): JobOutcome => {
        logger.error({ err, job: job.id }, "runner failed");
        return {
          status: "FAILED",
          nextStep: job.next_step,
          message: `runner error: ${(err as Error).message}`,
        };
      })
      .then(async (outcome) => {
        await finishJob(job, outcome);
      })
      .catch((err: unknown) => logger.error({ err, job: job.id }, "recording a job's end failed"))
      .finally(() => {
        // A later attempt of the same job may have taken the slot's entry meanwhile.
        if (active.get(job.id) === entry) active.delete(job.id);
        dispatchDirty = true;
        kick();
      });
  }

  type JobKey = Pick<JobRunRecord, "id" | "run_id" | "attempt">;

  /** The job as a remote runner names it, if that attempt still holds it. */
  async function jobKey(jobId: string, attempt: number): Promise<JobKey | undefined> {
    const job = await store.getJob(jobId);
    return job && job.attempt === attempt && job.status === "RUNNING" ? job : undefined;
  }

  async function recordStepStarted(job: JobKey, stepId: string): Promise<boolean> {
    const ok = await store.applyRunChanges(
      { steps: [{ id: stepId, status: "RUNNING", start_time: now() }] },
      { jobId: job.id, attempt: job.attempt },
    );
    events.emit("run", job.run_id);
    return ok;
  }

  async function recordStepFinished(
    job: JobKey,
    stepId: string,
    status: "COMPLETED" | "FAILED" | "CANCELED",
    message: string | null,
  ): Promise<boolean> {
    const ok = await store.applyRunChanges(
      { steps: [{ id: stepId, status, message, end_time: now() }] },
      { jobId: job.id, attempt: job.attempt },
    );
    events.emit("run", job.run_id);
    return ok;
  }

  function buildAssignment(g: RunGraph, job: JobRunRecord): JobAssignment {
    const run = g.run;
    const def = run.context.definition;
    const jd = def.stages[job.stage_idx]!.jobs[job.idx]!;
    const steps = g.steps.filter((s) => s.job_id === job.id).sort((a, b) => a.idx - b.idx);
    const env: Record<string, string> = {};
    for (const v of run.context.variables) env[v.name] = v.value;
    Object.assign(env, {
      CI: "true",
      PIPEWRIGHT: "true",
      PROJECT_ID: run.project_id,
      PIPELINE_ID: run.pipeline_id,
      PIPELINE_NAME: run.pipeline_name,
      PIPELINE_RUN_ID: run.id,
      PIPELINE_RUN_NUMBER: String(run.run_number),
      BUILDNUMBER: String(run.run_number),
      PIPELINE_TRIGGER_TYPE: run.trigger_type,
      STAGE_ID: def.stages[job.stage_idx]!.identifier,
      JOB_ID: jd.identifier,
      JOB_RUN_ID: job.id,
    });
    return {
      jobRunId: job.id,
      runId: run.id,
      attempt: job.attempt,
      steps: steps.map((s, i) => ({
        id: s.id,
        identifier: s.identifier,
        name: s.name,
        task: s.task,
        inputs: jd.steps[i]?.inputs ?? [],
      })),
      startStep: job.next_step,
      env,
      secrets: run.context.variables.filter((v) => v.is_secret && v.value !== "").map((v) => v.value),
      sources: run.context.sources,
      timeoutMs: (jd.timeoutSeconds ?? config.defaultJobTimeoutSeconds) * 1000,
      maxLogBytes: config.maxLogBytes,
    };
  }

  async function finishJob(
    job: Pick<JobRunRecord, "id" | "run_id" | "attempt">,
    outcome: JobOutcome,
  ): Promise<boolean> {
    if (forced) return false;
    let held = false;
    await mutateRun(job.run_id, (g) => {
      const j = g.jobs.find((x) => x.id === job.id);
      // Fencing: a job that was stopped or handed to another attempt keeps its newer state.
      if (!j || j.status !== "RUNNING" || j.attempt !== job.attempt) return null;
      held = true;
      if (outcome.status === "COMPLETED") {
        const jd = g.run.context.definition.stages[j.stage_idx]!.jobs[j.idx]!;
        const steps = g.steps.filter((s) => s.job_id === j.id).sort((a, b) => a.idx - b.idx);
        return enterNextStep({ ...j, next_step: outcome.nextStep }, jd, steps, now(), nextSeq);
      }
      return {
        jobs: [
          {
            id: j.id,
            status: outcome.status,
            message: outcome.message,
            next_step: outcome.nextStep,
            end_time: now(),
          },
        ],
      };
    });
    return held;
  }

  async function expireReviews(): Promise<void> {
    for (;;) {
      const next = await store.nextReviewDeadline();
      if (!next || next.deadline > now()) return;
      await mutateRun(next.run_id, (g) => {
        const step = g.steps.find((s) => s.id === next.step_id);
        if (!step || step.status !== "PAUSED") return null;
        const job = g.jobs.find((j) => j.id === step.job_id)!;
        const jd = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!;
        const settings = jd.steps[step.idx]!;
        const pass = settings.inputs.some((i) => i.key === "timeout_strategy" && i.value === "pass");
        return decide(
          g,
          job,
          step.id,
          pass ? "pass" : "refuse",
          pass ? "approved: review timed out" : "refused: review timed out",
        );
      });
    }
  }

  function decide(
    g: RunGraph,
    job: JobRunRecord,
    stepId: string,
    decision: "pass" | "refuse",
    message: string,
  ): RunChanges {
    const t = now();
    const step = {
      id: stepId,
      status: (decision === "pass" ? "COMPLETED" : "FAILED") as NodeStatus,
      message,
      end_time: t,
      deadline: null,
    };
    if (decision === "refuse") {
      return { steps: [step], jobs: [{ id: job.id, status: "FAILED", message, end_time: t }] };
    }
    const jd = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!;
    const steps = g.steps.filter((s) => s.job_id === job.id).sort((a, b) => a.idx - b.idx);
    const idx = steps.findIndex((s) => s.id === stepId);
    return mergeChanges(
      { steps: [step] },
      enterNextStep({ ...job, next_step: idx + 1 }, jd, steps, t, nextSeq),
    );
  }

  /**
   * A runner that stopped renewing a job's lease has lost it (crashed, cut off). The job goes back
   * to the queue once (REDISPATCH), from the step it was on; losing it a second time fails it.
   */
  async function expireLeases(): Promise<void> {
    for (const job of await store.listExpiredLeases(now())) {
      await mutateRun(job.run_id, (g) => {
        const j = g.jobs.find((x) => x.id === job.id);
        if (!j || j.status !== "RUNNING" || j.attempt !== job.attempt) return null;
        const t = now();
        const open = g.steps.filter(
          (s) => s.job_id === j.id && s.idx >= j.next_step && !TERMINAL_NODE.has(s.status),
        );
        // A runner that never confirmed the job (no heartbeat) most likely never got it: the
        // answer to its claim was lost. That does not count as losing the job.
        const confirmed = j.heartbeat_time !== null;
        if (j.lost === 0 || !confirmed) {
          const message = confirmed
            ? `runner ${j.runner_id} was lost (no heartbeat); dispatched again`
            : `runner ${j.runner_id} never confirmed the job; dispatched again`;
          return {
            jobs: [
              {
                id: j.id,
                status: "REDISPATCH",
                lost: confirmed ? j.lost + 1 : j.lost,
                runner_id: null,
                lease_expires: null,
                pgid: null,
                message,
                ready_seq: nextSeq(),
              },
            ],
            steps: open.map((s) => ({
              id: s.id,
              status: "INIT" as const,
              start_time: 0,
              end_time: 0,
              message: null,
            })),
            clearLogsOf: open.map((s) => s.id),
          };
        }
        const message = `runner ${j.runner_id} was lost (no heartbeat) a second time; the job failed`;
        return {
          jobs: [{ id: j.id, status: "FAILED", lost: j.lost + 1, message, end_time: t, lease_expires: null }],
          steps: open.map((s) => ({ id: s.id, status: "FAILED" as const, message, end_time: t })),
        };
      });
      dispatchDirty = true;
    }
  }

  /** Keeps the leases of the jobs this process runs alive. */
  async function renewLocalLeases(): Promise<void> {
    const until = now() + config.leaseMs;
    for (const [jobId, a] of active) {
      if (!(await store.renewLease(jobId, a.attempt, until))) a.controller.abort();
    }
  }

  /** Periodic duties of every replica: nothing here depends on events seen by this process. */
  async function sweep(): Promise<void> {
    if (stopped) return;
    await renewLocalLeases();
    await expireLeases();
    await expireReviews();
    admissionDirty = true;
    dispatchDirty = true;
    kick();
  }

  async function scheduleReviewTimer(): Promise<void> {
    const next = await store.nextReviewDeadline();
    if (reviewTimer) clearTimeout(reviewTimer);
    reviewTimer = undefined;
    if (!next || stopped) return;
    const delay = Math.min(Math.max(0, next.deadline - now()), 2 ** 31 - 1);
    reviewTimer = setTimeout(() => {
      void expireReviews().then(kick, (err: unknown) => logger.error({ err }, "expiring reviews failed"));
    }, delay);
    reviewTimer.unref();
  }

  async function pump(): Promise<void> {
    if (pumping) {
      pumpScheduled = false;
      return;
    }
    pumping = true;
    try {
      while (!stopped && (dirtyRuns.size > 0 || admissionDirty || dispatchDirty)) {
        const runs = [...dirtyRuns];
        dirtyRuns.clear();
        for (const id of runs) await advance(id);
        if (admissionDirty) {
          admissionDirty = false;
          await admit();
        }
        if (dispatchDirty) {
          dispatchDirty = false;
          await dispatch();
        }
      }
      await scheduleReviewTimer();
    } catch (err) {
      logger.error({ err }, "scheduler pass failed");
      // Try again shortly rather than spinning on a persistent error.
      setTimeout(() => {
        admissionDirty = true;
        dispatchDirty = true;
        kick();
      }, 1000).unref();
    } finally {
      pumping = false;
    }
    if (dirtyRuns.size > 0) kick();
  }

  async function recover(): Promise<void> {
    const orphans = await store.listRunningJobsOf(config.runnerId);
    for (const job of orphans) {
      // The processes of a crashed server live on in their own groups: end them first.
      if (job.pgid !== null) runner?.reapOrphan(job.id, job.pgid);
      const message = "interrupted by server restart";
      await mutateRun(job.run_id, (g) => {
        const j = g.jobs.find((x) => x.id === job.id);
        if (!j || j.status !== "RUNNING") return null;
        const t = now();
        return {
          run: { id: g.run.id, message },
          jobs: [{ id: j.id, status: "FAILED", message, end_time: t }],
          steps: g.steps
            .filter((s) => s.job_id === j.id && (s.status === "RUNNING" || s.status === "QUEUED"))
            .map((s) => ({ id: s.id, status: "FAILED" as const, message, end_time: t })),
        };
      });
    }
    for (const id of await store.listActiveRunIds()) dirtyRuns.add(id);
    if (orphans.length > 0)
      logger.warn({ jobs: orphans.length }, "failed jobs interrupted by a server restart");
  }

  return {
    events,
    async start() {
      if (started) return;
      started = true;
      await recover();
      // Runner agents could not renew their leases while no server answered: give them one lease
      // period to come back before their jobs count as lost.
      await store.graceLeases(now() + config.leaseMs);
      await expireReviews();
      admissionDirty = true;
      dispatchDirty = true;
      kick();
      sweepTimer = setInterval(() => {
        sweep().catch((err: unknown) => logger.error({ err }, "sweep failed"));
      }, config.sweepMs);
      sweepTimer.unref();
    },

    async stop(opts) {
      stopped = true;
      if (reviewTimer) clearTimeout(reviewTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      for (const w of workWaiters.splice(0)) w();
      if (opts?.force) {
        forced = true;
        for (const { controller } of active.values()) controller.abort();
      }
      while (active.size > 0) await new Promise((r) => setTimeout(r, 20));
    },

    async createRuns(items, executor, batch) {
      // A bad request throws inside the transaction, which then writes nothing.
      const result = await store.transaction(async (tx): Promise<CreateRunsResult> => {
        if (batch) {
          const prior = await tx.findBatch(batch.spec.projectId, batch.spec.key);
          if (prior) {
            if (prior.body_hash !== batch.spec.bodyHash) {
              throw new PipewrightError(
                "IDEMPOTENCY_KEY_REUSED",
                `Idempotency-Key "${batch.spec.key}" was used with another body.`,
              );
            }
            return { replayed: true, response: prior.response };
          }
        }
        const ids = items.map((it) => it.pipelineId);
        // Callers pass each pipeline once (batch-runs rejects duplicates), so one counter step each.
        if (new Set(ids).size !== ids.length) throw new Error("createRuns: a pipeline appears twice");
        // Read under the transaction with the new run numbers: ban state, variables and limits as of now.
        const fresh = new Map((await tx.allocateRunNumbers(ids)).map((p) => [p.id, p]));
        const defs = items.map((it) => {
          const p = fresh.get(it.pipelineId);
          if (!p)
            throw new PipewrightError("PIPELINE_NOT_FOUND", `Pipeline ${it.pipelineId} does not exist.`);
          const def = definitionOf(p);
          validateRunOptions(p, def, it.options);
          return def;
        });
        const limited = [...fresh.values()]
          .filter((p) => p.spec.concurrency_control?.enable)
          .map((p) => p.id);
        const counts = await tx.countActiveRuns(limited);
        const t = now();
        const graphs: RunGraph[] = [];
        for (const [i, it] of items.entries()) {
          const p = fresh.get(it.pipelineId)!;
          const start = decideStart(p, counts.get(p.id));
          if (start.kind !== "refused") {
            const c = counts.get(p.id) ?? { admitted: 0, waiting: 0 };
            if (start.kind === "admitted") c.admitted++;
            else c.waiting++;
            counts.set(p.id, c);
          }
          const { values, advanced } = resolveVariables(p.spec.variables, it.options.variables);
          if (advanced && start.kind !== "refused") {
            await tx.updatePipelineSpec(p.id, { ...p.spec, variables: advanced });
            fresh.set(p.id, { ...p, spec: { ...p.spec, variables: advanced } });
          }
          let g = buildRunGraph({
            pipeline: p,
            definition: defs[i]!,
            runId: newId(),
            runNumber: p.run_counter,
            options: it.options,
            variables: values,
            executor,
            now: t,
            queueSeq: nextSeq(),
            start,
            newId,
          });
          // Plan before inserting: the first stage and its jobs are written ready to go.
          g = applyChanges(g, planRun(g, { now: t, nextSeq, conditions }));
          graphs.push(g);
        }
        await tx.insertRunGraphs(graphs);
        const runs = graphs.map((g) => g.run);
        if (batch) {
          await tx.insertBatch({
            project_id: batch.spec.projectId,
            idempotency_key: batch.spec.key,
            body_hash: batch.spec.bodyHash,
            response: batch.respond(runs),
            create_time: t,
          });
        }
        return { replayed: false, runs };
      });
      if (!result.replayed) {
        for (const r of result.runs) events.emit("run", r.id);
        if (result.runs.some((r) => !r.admitted && r.status === "QUEUED")) admissionDirty = true;
        dispatchDirty = true;
        kick();
      }
      return result;
    },

    async stopRun(runId, who) {
      const g = await mutateRun(runId, (graph) => {
        if (FINISHED.has(graph.run.status)) {
          throw new PipewrightError(
            "RUN_NOT_STOPPABLE",
            `Run ${runId} has already ended (${graph.run.status}).`,
          );
        }
        const t = now();
        const message = `stopped by ${who}`;
        const cancel = <T extends { id: string; status: NodeStatus }>(xs: readonly T[]) =>
          xs
            .filter((x) => !TERMINAL_NODE.has(x.status))
            .map((x) => ({ id: x.id, status: "CANCELED" as const, end_time: t }));
        return {
          run: { id: runId, status: "CANCELED", stop_requested: true, end_time: t, message, update_time: t },
          stages: cancel(graph.stages),
          jobs: cancel(graph.jobs).map((j) => ({ ...j, message })),
          steps: cancel(graph.steps).map((s) => ({ ...s, message, deadline: null })),
        };
      });
      if (!g) return;
      for (const a of active.values()) if (a.runId === runId) a.controller.abort();
    },

    async retryRun(runId) {
      // A stopped job's runner may still be winding down (killing its processes, removing its
      // workspace, closing its step logs): the new attempt uses the same workspace and step ids.
      const current = await store.getRun(runId);
      if (current && FINISHED.has(current.status)) {
        await Promise.all([...active.values()].filter((a) => a.runId === runId).map((a) => a.done));
      }
      await mutateRun(runId, (g) => {
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
        return {
          run: {
            id: runId,
            status: "QUEUED",
            admitted: false,
            queue_seq: nextSeq(),
            end_time: 0,
            stop_requested: false,
            message: null,
            update_time: now(),
          },
          stages: resetStages.map((s) => ({ id: s.id, ...init })),
          jobs: resetJobs.map((j) => ({
            id: j.id,
            ...init,
            message: null,
            next_step: 0,
            runner_id: null,
            lease_expires: null,
          })),
          steps: resetSteps.map((s) => ({ id: s.id, ...init, message: null, deadline: null })),
          clearLogsOf: resetSteps.map((s) => s.id),
        };
      });
      admissionDirty = true;
      kick();
    },

    async review(runId, jobRunId, stepRunId, decision, who) {
      await mutateRun(runId, (g) => {
        const step = g.steps.find((s) => s.id === stepRunId);
        const job = g.jobs.find((j) => j.id === jobRunId);
        if (!step || !job || step.job_id !== job.id) {
          throw new PipewrightError(
            "JOB_NOT_FOUND",
            `No step ${stepRunId} of job ${jobRunId} in run ${runId}.`,
          );
        }
        if (step.task !== "official_devcloud_checkpoint" || step.status !== "PAUSED") {
          throw new PipewrightError(
            "STEP_NOT_WAITING",
            `Step ${stepRunId} is ${step.status}, not a manual review waiting for a decision.`,
          );
        }
        return decide(
          g,
          job,
          stepRunId,
          decision,
          `${decision === "pass" ? "approved" : "refused"} by ${who.name}`,
        );
      });
    },

    async claimForRunner(runnerId, limit, labels) {
      if (stopped) return [];
      const claimed = await store.claimJobs({ runnerId, limit, labels, now: now(), leaseMs: config.leaseMs });
      const out: JobAssignment[] = [];
      for (const job of claimed) {
        const graph = await store.getRunGraph(job.run_id);
        if (!graph) continue;
        if (graph.run.status === "QUEUED") dirtyRuns.add(job.run_id);
        out.push(buildAssignment(graph, job));
      }
      if (out.length > 0) kick();
      return out;
    },

    get stopping() {
      return stopped;
    },

    waitForWork(ms, signal) {
      if (stopped) return Promise.resolve();
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
        workWaiters.push(done);
      });
    },

    async releaseJobs(jobs) {
      await store.releaseJobs(jobs.map((j) => ({ id: j.jobRunId, attempt: j.attempt })));
      dispatchDirty = true;
      kick();
    },

    renewLease(jobId, attempt) {
      return store.renewLease(jobId, attempt, now() + config.leaseMs);
    },

    async reportStepStarted(jobId, attempt, stepId) {
      const job = await jobKey(jobId, attempt);
      return job ? recordStepStarted(job, stepId) : false;
    },

    async reportStepLog(jobId, attempt, stepId, offset, text) {
      const ok = await store.appendLog(stepId, offset, text, { jobId, attempt });
      if (ok) logs.publish(stepId, offset, text);
      return ok;
    },

    async reportStepFinished(jobId, attempt, stepId, status, message) {
      const job = await jobKey(jobId, attempt);
      if (!job) return false;
      const ok = await recordStepFinished(job, stepId, status, message);
      logs.ended(stepId);
      return ok;
    },

    async reportJobFinished(jobId, attempt, outcome) {
      const job = await jobKey(jobId, attempt);
      return job ? finishJob(job, outcome) : false;
    },
  };
}
