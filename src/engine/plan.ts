// The scheduling rules of one run as a pure function: given the run's current records, which
// stages start, which jobs become ready, are skipped or wait for review, and how the run ends.
// The scheduler writes what this answers; nothing here does I/O.

import {
  type ConditionAst,
  type ConditionContext,
  evaluateCondition,
  parseCondition,
} from "../pipeline/condition.js";
import { DEFAULT_CONDITION, stageOrder } from "../pipeline/definition.js";
import { jobOutputs } from "../pipeline/outputs.js";
import { checkpointSettings, delaySeconds } from "../pipeline/task-inputs.js";
import type { Definition, JobDef, StageDef } from "../pipeline/types.js";
import {
  CHECKPOINT_TASK,
  DELAY_TASK,
  type NodeStatus,
  type RunStatus,
  SUBPIPELINE_TASK,
  SUSPEND_TASK,
  TERMINAL_NODE_STATUSES as TERMINAL_NODE,
  TERMINAL_RUN_STATUSES,
} from "../pipeline/vocabulary.js";
import type {
  JobRunRecord,
  RunChanges,
  RunGraph,
  RunRecord,
  StageRunRecord,
  StepRunRecord,
} from "../store/run-records.js";
import { indexRun } from "./graph.js";

/** Predecessors in these states neither satisfy nor fail a `default()` condition: they did not run. */
const NEUTRAL: ReadonlySet<string> = new Set(["SKIPPED", "UNSELECTED", "IGNORED"]);

/** A review step without a timeout waits at most this long, so no run stays PAUSED forever. */
export const DEFAULT_REVIEW_TIMEOUT_SECONDS = 24 * 3600;

export interface PlanEnv {
  readonly now: number;
  /** Monotonic sequence for the FIFO order of ready jobs. */
  readonly nextSeq: () => number;
  /** Parsed conditions by source text, kept across calls (conditions repeat across runs). */
  readonly conditions?: Map<string, ConditionAst>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Stage/job definitions aligned with their run records (records keep definition order). */
function jobDefOf(stage: StageDef, job: JobRunRecord): JobDef {
  return stage.jobs[job.idx]!;
}

export function conditionPipelineContext(run: RunRecord): Record<string, string> {
  return {
    trigger_type: run.trigger_type,
    pipeline_id: run.pipeline_id,
    pipeline_name: run.pipeline_name,
    run_id: run.id,
    pipeline_run_id: run.id,
    run_number: String(run.run_number),
    project_id: run.project_id,
    executor_name: run.executor_name,
  };
}

function sourcesContext(sources: readonly unknown[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  sources.forEach((src, i) => {
    const params = ((src as { params?: Record<string, unknown> }).params ?? {}) as Record<string, unknown>;
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (typeof v === "string") flat[k] = v;
    const build = params.build_params as Record<string, unknown> | undefined;
    if (build) for (const [k, v] of Object.entries(build)) if (typeof v === "string") flat[k] = v;
    const alias = typeof params.alias === "string" && params.alias ? params.alias : `source_${i}`;
    out[alias] = flat;
  });
  return out;
}

/** A min-heap of numbers: the planner takes ready stages and jobs in definition order. */
class IndexQueue {
  private readonly heap: number[] = [];
  private readonly queued = new Set<number>();

  push(n: number): void {
    if (this.queued.has(n)) return;
    this.queued.add(n);
    const h = this.heap;
    h.push(n);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= h[i]!) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  pop(): number | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    this.queued.delete(top);
    return top;
  }
}

/** How a definition's stages wait for one another, by index; made once per definition. */
const stageGraphs = new WeakMap<Definition, { waitsFor: number[][]; stageDependents: number[][] }>();
function stageGraphOf(def: Definition) {
  let sg = stageGraphs.get(def);
  if (!sg) {
    const order = stageOrder(def);
    const stageIndex = new Map(order.map((o) => [o.identifier, o.index]));
    const waitsFor = order.map((o) => o.waitsFor.map((id) => stageIndex.get(id)!));
    const stageDependents: number[][] = order.map(() => []);
    waitsFor.forEach((ws, si) => {
      for (const w of ws) stageDependents[w]!.push(si);
    });
    sg = { waitsFor, stageDependents };
    stageGraphs.set(def, sg);
  }
  return sg;
}

/** Stages that did not run: a stage waiting for one looks through it to what it waited for. */
const PASSED_OVER: ReadonlySet<string> = new Set(["SKIPPED", "UNSELECTED"]);

/**
 * Decides the next transitions of a run, as far as it can go without executing anything (a
 * whole chain of skipped stages, say). Linear in the size of the run: stages and jobs are taken
 * from worklists in definition order as what they wait for ends, each decided once; nothing
 * recurses, so a definition at the size limits plans in one pass on a bounded stack.
 */
export function planRun(g: RunGraph, env: PlanEnv): RunChanges {
  const run = g.run;
  if (TERMINAL_RUN_STATUSES.has(run.status)) return {};
  if (!run.admitted) return {};
  const { now } = env;
  const def = run.context.definition;

  // Records are copied only when they change (a large run changes a few per pass): the working
  // copies below are found through these "current" tables, which start as the graph's own.
  const changedStages = new Map<string, Mutable<StageRunRecord>>();
  const changedJobs = new Map<string, Mutable<JobRunRecord>>();
  const changedSteps = new Map<string, Mutable<StepRunRecord>>();
  const stageAt: StageRunRecord[] = [];
  for (const st of g.stages) stageAt[st.idx] = st;
  const jobAt = (j: JobRunRecord): JobRunRecord => changedJobs.get(j.id) ?? j;
  const stepAt = (st: StepRunRecord): StepRunRecord => changedSteps.get(st.id) ?? st;
  const writeStage = (si: number): Mutable<StageRunRecord> => {
    const cur = stageAt[si]!;
    let w = changedStages.get(cur.id);
    if (!w) {
      w = { ...cur };
      changedStages.set(cur.id, w);
      stageAt[si] = w;
    }
    return w;
  };
  const writeJob = (j: JobRunRecord): Mutable<JobRunRecord> => {
    let w = changedJobs.get(j.id);
    if (!w) {
      w = { ...j };
      changedJobs.set(j.id, w);
    }
    return w;
  };
  const writeStep = (st: StepRunRecord): Mutable<StepRunRecord> => {
    let w = changedSteps.get(st.id);
    if (!w) {
      w = { ...st };
      changedSteps.set(st.id, w);
    }
    return w;
  };

  // Indexes, built once: everything below looks things up instead of scanning.
  const { waitsFor, stageDependents } = stageGraphOf(def);
  const index = indexRun(g);
  const jobsOfStage = (si: number): readonly JobRunRecord[] => index.jobsOfStage(si);
  const stepsOfJob = (jobId: string): readonly StepRunRecord[] => index.stepsOfJob(jobId);

  // One context for every condition of this pass, made when the first condition needs it; job
  // statuses in it follow as they change.
  let ctx:
    | (Omit<ConditionContext, "predecessors"> & {
        jobs: Record<string, { status: string; outputs: Record<string, string> }>;
      })
    | undefined;
  const conditionContext = () => {
    if (ctx) return ctx;
    const vars: Record<string, string> = {};
    for (const v of run.context.variables) vars[v.name] = v.value;
    const jobs: Record<string, { status: string; outputs: Record<string, string> }> = {};
    for (const j of g.jobs) {
      // Outputs are read from the steps only when a condition asks for them.
      jobs[j.identifier] = {
        status: jobAt(j).status,
        get outputs() {
          return jobOutputs(stepsOfJob(j.id).map(stepAt));
        },
      };
    }
    ctx = {
      pipeline: conditionPipelineContext(run),
      variables: vars,
      sources: sourcesContext(run.context.sources),
      jobs,
    };
    return ctx;
  };
  const noteJobStatus = (j: JobRunRecord): void => {
    if (ctx) ctx.jobs[j.identifier]!.status = j.status;
  };

  let anyStageFailed = g.stages.some((s) => s.status === "FAILED");
  const stageQueue = new IndexQueue();

  const setStage = (si: number, status: NodeStatus): void => {
    const s = writeStage(si);
    s.status = status;
    if (status === "RUNNING") s.start_time = now;
    else if (TERMINAL_NODE.has(status)) s.end_time = now;
    if (status === "FAILED") anyStageFailed = true;
    if (TERMINAL_NODE.has(status)) wakeDependents(si);
  };
  /** Queues the stages waiting for `si`, through those that did not run to what waits for them. */
  const wakeDependents = (si: number): void => {
    const todo = [...stageDependents[si]!];
    const seen = new Set<number>();
    while (todo.length > 0) {
      const d = todo.pop()!;
      if (seen.has(d)) continue;
      seen.add(d);
      if (PASSED_OVER.has(stageAt[d]!.status)) todo.push(...stageDependents[d]!);
      else stageQueue.push(d);
    }
  };
  const setJob = (job: JobRunRecord, status: NodeStatus, message?: string): void => {
    const j = writeJob(job);
    j.status = status;
    noteJobStatus(j);
    if (message !== undefined) j.message = message;
    if (status === "QUEUED") j.ready_seq = env.nextSeq();
    if (TERMINAL_NODE.has(status)) j.end_time = now;
    if (status === "SKIPPED" || status === "UNSELECTED") {
      for (const st of stepsOfJob(j.id)) {
        if (!TERMINAL_NODE.has(stepAt(st).status)) writeStep(st).status = status;
      }
    }
  };

  /**
   * Whether everything a stage waits for has ended, looking through stages that did not run
   * (an unselected one ends at once) to what they waited for. Walked with a stack, remembered
   * once true (an ended stage never starts again within a pass).
   */
  const waitDoneMemo = new Set<number>();
  const waitDone = (si: number): boolean => {
    const todo = [...waitsFor[si]!];
    const seen = new Set<number>();
    while (todo.length > 0) {
      const w = todo.pop()!;
      if (seen.has(w)) continue;
      seen.add(w);
      const ws = stageAt[w]!;
      if (!TERMINAL_NODE.has(ws.status)) return false;
      if (PASSED_OVER.has(ws.status) && !waitDoneMemo.has(w)) todo.push(...waitsFor[w]!);
    }
    waitDoneMemo.add(si);
    return true;
  };

  /**
   * The statuses of the jobs a stage's jobs look back at: those of the stages it waits for,
   * looking through stages that did not run. Only whether all completed or any failed matters
   * to a condition, so a set of statuses stands for the list.
   */
  const predMemo = new Map<number, Set<string>>();
  const predecessorStatuses = (si: number): Set<string> => {
    const memo = predMemo.get(si);
    if (memo) return memo;
    const out = new Set<string>();
    const todo = [...waitsFor[si]!];
    const seen = new Set<number>();
    while (todo.length > 0) {
      const w = todo.pop()!;
      if (seen.has(w)) continue;
      seen.add(w);
      if (PASSED_OVER.has(stageAt[w]!.status)) todo.push(...waitsFor[w]!);
      else
        for (const j of jobsOfStage(w)) {
          const status = jobAt(j).status;
          if (!NEUTRAL.has(status)) out.add(status);
        }
    }
    predMemo.set(si, out);
    return out;
  };

  /** A ready job queues for a runner, or waits for review when its next step is a checkpoint. */
  function startJob(job: JobRunRecord, jd: JobDef): void {
    const steps = stepsOfJob(job.id);
    const c = enterNextStep(jobAt(job), jd, steps.map(stepAt), now, env.nextSeq);
    for (const p of c.jobs ?? []) {
      const w = writeJob(job);
      Object.assign(w, p);
      noteJobStatus(w);
    }
    for (const p of c.steps ?? []) Object.assign(writeStep(steps.find((x) => x.id === p.id)!), p);
  }

  /** Decides the INIT jobs of a running stage whose dependencies have ended, in job order. */
  function decideJobs(si: number): void {
    const stageDef = def.stages[si]!;
    const stageJobs = jobsOfStage(si);
    const byIdx = new Map(stageJobs.map((j) => [j.idx, j]));
    const dependents = new Map<number, number[]>();
    const waiting = new Map<number, number>();
    const ready = new IndexQueue();
    for (const job of stageJobs) {
      if (jobAt(job).status !== "INIT") continue;
      let open = 0;
      for (const id of jobDefOf(stageDef, job).depends_on) {
        const dep = index.jobByIdentifier(id)!;
        if (TERMINAL_NODE.has(jobAt(dep).status)) continue;
        open++;
        const list = dependents.get(dep.idx);
        if (list) list.push(job.idx);
        else dependents.set(dep.idx, [job.idx]);
      }
      if (open === 0) ready.push(job.idx);
      else waiting.set(job.idx, open);
    }
    for (let idx = ready.pop(); idx !== undefined; idx = ready.pop()) {
      const job = byIdx.get(idx)!;
      const jd = jobDefOf(stageDef, job);
      const deps = jd.depends_on.map((id) => jobAt(index.jobByIdentifier(id)!));
      // In a run_always stage the default condition does not look back at the failed stages:
      // that is what run_always asks for. An explicit condition (failure(), …) still can.
      const lookBack = !(
        stageDef.run_always &&
        jd.depends_on.length === 0 &&
        jd.condition === DEFAULT_CONDITION
      );
      const predecessors =
        deps.length > 0
          ? deps.map((d) => d.status).filter((st) => !NEUTRAL.has(st))
          : lookBack
            ? [...predecessorStatuses(si)]
            : [];
      let ok: boolean;
      let why: string | undefined;
      try {
        let ast = env.conditions?.get(jd.condition);
        if (!ast) {
          ast = parseCondition(jd.condition);
          if (env.conditions && env.conditions.size < 10_000) env.conditions.set(jd.condition, ast);
        }
        ok = evaluateCondition(ast, { ...conditionContext(), predecessors });
      } catch (err) {
        ok = false;
        why = `condition error: ${(err as Error).message}`;
      }
      if (!ok) setJob(job, "SKIPPED", why ?? `condition ${jd.condition} is false`);
      else startJob(job, jd);
      // A job that ended here (skipped, or with no step left) may let its dependents go.
      if (!TERMINAL_NODE.has(jobAt(job).status)) continue;
      for (const d of dependents.get(idx) ?? []) {
        const left = waiting.get(d)! - 1;
        waiting.set(d, left);
        if (left === 0) ready.push(d);
      }
    }
    if (stageJobs.every((j) => TERMINAL_NODE.has(jobAt(j).status))) {
      const st = stageJobs.map((j) => jobAt(j).status);
      setStage(
        si,
        st.some((s) => s === "FAILED" || s === "ASYNC_FAILED")
          ? "FAILED"
          : st.some((s) => s === "CANCELED")
            ? "CANCELED"
            : "COMPLETED",
      );
    }
  }

  for (const st of g.stages) if (!TERMINAL_NODE.has(st.status)) stageQueue.push(st.idx);
  for (let si = stageQueue.pop(); si !== undefined; si = stageQueue.pop()) {
    if (TERMINAL_NODE.has(stageAt[si]!.status)) continue;
    if (stageAt[si]!.status === "INIT") {
      if (!waitDone(si)) continue; // looked at again when what it waits for ends
      if (anyStageFailed && !def.stages[si]!.run_always) {
        for (const j of jobsOfStage(si)) if (!TERMINAL_NODE.has(jobAt(j).status)) setJob(j, "SKIPPED");
        setStage(si, "SKIPPED");
        continue;
      }
      setStage(si, "RUNNING");
    }
    if (stageAt[si]!.status === "RUNNING") decideJobs(si);
  }

  // Steps after the one a job failed at never run: say so rather than leaving them INIT.
  for (const job of g.jobs) {
    const status = jobAt(job).status;
    if (status !== "FAILED" && status !== "CANCELED") continue;
    for (const st of stepsOfJob(job.id)) if (stepAt(st).status === "INIT") writeStep(st).status = "SKIPPED";
  }

  const runPatch: Mutable<Partial<RunRecord>> & { id: string } = { id: run.id };
  const status = deriveRunStatus(
    g.stages.map((st) => stageAt[st.idx]!),
    g.jobs.map(jobAt),
  );
  if (status !== run.status) runPatch.status = status;
  if (status === "COMPLETED" || status === "FAILED" || status === "CANCELED") runPatch.end_time = now;
  if (status === "PAUSED" && run.paused_since === null) runPatch.paused_since = now;
  if (status !== "PAUSED" && run.paused_since !== null) {
    runPatch.pause_time = run.pause_time + (now - run.paused_since);
    runPatch.paused_since = null;
  }
  const changed =
    Object.keys(runPatch).length > 1 || changedStages.size + changedJobs.size + changedSteps.size > 0;
  if (!changed) return {};
  runPatch.update_time = now;
  return {
    run: runPatch,
    stages: [...changedStages.values()].map((s) => ({
      id: s.id,
      status: s.status,
      start_time: s.start_time,
      end_time: s.end_time,
    })),
    jobs: [...changedJobs.values()].map((j) => ({
      id: j.id,
      status: j.status,
      message: j.message,
      next_step: j.next_step,
      ready_seq: j.ready_seq,
      start_time: j.start_time,
      end_time: j.end_time,
    })),
    steps: [...changedSteps.values()].map((s) => ({
      id: s.id,
      status: s.status,
      start_time: s.start_time,
      end_time: s.end_time,
      deadline: s.deadline,
    })),
  };
}

/**
 * What happens when a job is about to execute its step `job.next_step`: a manual review or a
 * delay pauses the job (the step waits with a deadline), a suspension suspends it (until resumed),
 * a sub-pipeline runs on the server (the step is RUNNING while its child run is; no runner holds
 * the job), no step left completes it, anything else queues it for a runner.
 */
export function enterNextStep(
  job: JobRunRecord,
  jd: JobDef,
  steps: readonly StepRunRecord[],
  now: number,
  nextSeq: () => number,
): RunChanges {
  const next = jd.steps[job.next_step];
  if (next === undefined) {
    return { jobs: [{ id: job.id, status: "COMPLETED", next_step: job.next_step, end_time: now }] };
  }
  const step = steps[job.next_step]!;
  const startTime = job.start_time || now;
  if (next.task === DELAY_TASK) {
    return {
      jobs: [{ id: job.id, status: "PAUSED", next_step: job.next_step, start_time: startTime }],
      steps: [{ id: step.id, status: "PAUSED", start_time: now, deadline: now + delaySeconds(next) * 1000 }],
    };
  }
  if (next.task === SUSPEND_TASK) {
    return {
      jobs: [{ id: job.id, status: "SUSPEND", next_step: job.next_step, start_time: startTime }],
      steps: [{ id: step.id, status: "SUSPEND", start_time: now, deadline: null }],
    };
  }
  if (next.task === SUBPIPELINE_TASK) {
    return {
      jobs: [
        {
          id: job.id,
          status: "RUNNING",
          next_step: job.next_step,
          start_time: startTime,
          // The server holds the job now: a runner that brought it here is through with it.
          runner_id: null,
          lease_expires: null,
          pgid: null,
        },
      ],
      steps: [{ id: step.id, status: "RUNNING", start_time: now, deadline: null }],
    };
  }
  if (next.task === CHECKPOINT_TASK) {
    const { timeoutSeconds } = checkpointSettings(next);
    return {
      jobs: [{ id: job.id, status: "PAUSED", next_step: job.next_step, start_time: job.start_time || now }],
      steps: [
        {
          id: step.id,
          status: "PAUSED",
          start_time: now,
          deadline: now + (timeoutSeconds ?? DEFAULT_REVIEW_TIMEOUT_SECONDS) * 1000,
        },
      ],
    };
  }
  return { jobs: [{ id: job.id, status: "QUEUED", next_step: job.next_step, ready_seq: nextSeq() }] };
}

/** The run's status follows from its stages and jobs. */
export function deriveRunStatus(
  stages: readonly Pick<StageRunRecord, "status">[],
  jobs: readonly Pick<JobRunRecord, "status">[],
): RunStatus {
  if (stages.every((s) => TERMINAL_NODE.has(s.status))) {
    if (stages.some((s) => s.status === "FAILED")) return "FAILED";
    if (stages.some((s) => s.status === "CANCELED")) return "CANCELED";
    return "COMPLETED";
  }
  // A suspended job holds the whole run until someone resumes it (CodeArts's SUSPEND).
  if (jobs.some((j) => j.status === "SUSPEND")) return "SUSPEND";
  if (jobs.some((j) => j.status === "RUNNING")) return "RUNNING";
  if (jobs.some((j) => j.status === "PAUSED")) return "PAUSED";
  // Before its first job starts, a run is QUEUED: it waits for runner capacity.
  const started = jobs.some((j) => j.status !== "INIT" && j.status !== "QUEUED" && !NEUTRAL.has(j.status));
  return started ? "RUNNING" : "QUEUED";
}
