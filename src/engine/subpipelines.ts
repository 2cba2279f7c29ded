// Sub-pipelines (CodeArts's Subpipeline task): a job's step runs another pipeline of the project
// and follows it. The step goes RUNNING when its job gets to it (plan.ts); this module then
// starts the child run through the same use case every run goes through (start-runs.ts), and
// when the child ends, the step ends as it did and the job goes on. One child per step: the
// child run carries its parent step, under a unique index, so the child and the parent's link to
// it are one record written in one transaction; a reconcile after a crash finds the child there
// and does not start a second one. Nothing here polls: the run writer wakes this module when a
// sub-pipeline step starts or a child run ends, and the periodic sweep looks again (replicas).

import type { Logger } from "pino";
import { ERRORS, PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { effectiveOperations, FOLLOWS_PROJECT } from "../pipeline/permissions.js";
import { subpipelineSettings } from "../pipeline/task-inputs.js";
import { type NodeStatus, SUBPIPELINE_TASK, TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { RunChanges, RunGraph, RunRecord } from "../store/run-records.js";
import type { Store } from "../store/store.js";
import type { RunOptions } from "./create-runs.js";
import { mergeChanges } from "./graph.js";
import { enterNextStep } from "./plan.js";
import type { RunWriter } from "./run-writer.js";
import type { StartRuns } from "./start-runs.js";

/** The trigger type of a run a sub-pipeline step started (ours; CodeArts does not document one). */
export const SUBPIPELINE_TRIGGER = "SubPipeline";

/** What a child run's end makes of its parent step. */
export function childResult(child: RunRecord): NodeStatus {
  if (child.status === "COMPLETED") return "COMPLETED";
  if (child.status === "CANCELED") return "CANCELED";
  // FAILED, and IGNORED (the child was refused: a concurrency ABORT): the step failed.
  return "FAILED";
}

/**
 * The parent step `stepId` ends with `status` (and `message`); a completed step lets its job go
 * on to its next step, any other ends the job. Null when the step is not running any more.
 */
export function stepEndChanges(
  g: RunGraph,
  stepId: string,
  status: NodeStatus,
  message: string,
  now: number,
  nextSeq: () => number,
): RunChanges | null {
  const step = g.steps.find((s) => s.id === stepId);
  if (!step || step.status !== "RUNNING" || step.task !== SUBPIPELINE_TASK) return null;
  const job = g.jobs.find((j) => j.id === step.job_id)!;
  const ended = { id: step.id, status, message, end_time: now };
  if (status !== "COMPLETED") {
    return { steps: [ended], jobs: [{ id: job.id, status, message, end_time: now }] };
  }
  const jd = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!;
  const steps = g.steps.filter((s) => s.job_id === job.id).sort((a, b) => a.idx - b.idx);
  return mergeChanges(
    { steps: [ended] },
    enterNextStep({ ...job, next_step: step.idx + 1 }, jd, steps, now, nextSeq),
  );
}

export interface Subpipelines {
  /** Starts the child each running sub-pipeline step lacks, and ends the steps whose child ended. */
  reconcile(): Promise<void>;
  /** Stops the unfinished child runs of a run (its stop reached them). */
  childrenOf(runId: string): Promise<RunRecord[]>;
}

/** Executors that are not credentials: the run was started by a trigger of the pipeline. */
const TRIGGER_EXECUTORS = /^(scheduler|webhook|poll|system)/i;

export function createSubpipelines(deps: {
  readonly store: Store;
  readonly writer: RunWriter;
  readonly start: StartRuns;
  readonly now: () => number;
  readonly logger: Logger;
}): Subpipelines {
  const { store, writer, start, now, logger } = deps;

  const failStep = (runId: string, stepId: string, message: string) =>
    writer.mutate(runId, (g) => stepEndChanges(g, stepId, "FAILED", message, now(), writer.nextSeq));

  /** The runs above `run`, nearest first. */
  async function ancestorsOf(run: RunRecord): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    let r: RunRecord | undefined = run;
    // Bounded: a chain longer than the depth limit never starts a child, so none is deeper.
    while (r?.parent_run_id && out.length <= LIMITS.subpipelineDepth + 1) {
      r = await store.getRun(r.parent_run_id);
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Who the child run is checked against, and whether they may run the child pipeline: a child
   * run is a run of its own pipeline, so it takes the same execute permission a direct run would.
   * A run started by a trigger (scheduler, webhook, poll) has no credential behind it: it stands
   * for whoever last changed the parent pipeline (its creator if nobody did), who chose the
   * sub-pipeline; else a trigger would let an operator run a pipeline they may not run.
   */
  async function mayRunChild(parent: RunRecord, pipelineId: string): Promise<{ ok: boolean; who: string }> {
    if (!TRIGGER_EXECUTORS.test(parent.executor_id) && !TRIGGER_EXECUTORS.test(parent.executor_name)) {
      return {
        ok: await credentialMayRun(parent.executor_id, parent.project_id, pipelineId),
        who: parent.executor_name,
      };
    }
    const own = await store.getPipeline(parent.pipeline_id);
    if (!own) return { ok: false, who: "nobody (the pipeline is gone)" };
    const id = own.updater_id || own.creator_id;
    const name = id === own.creator_id ? own.creator_name : `credential ${id}`;
    return {
      ok: await credentialMayRun(id, parent.project_id, pipelineId),
      who: `the last to change pipeline ${own.name} (${name}), for whom its trigger started this run`,
    };
  }

  async function credentialMayRun(id: string, projectId: string, pipelineId: string): Promise<boolean> {
    if (id === "admin") return true;
    const cred = (await store.findAccessKey(id)) ?? (await store.listTokens()).find((t) => t.id === id);
    if (!cred || cred.revoked_time !== null || !cred.project_ids.includes(projectId)) return false;
    if (cred.role === "admin") return true;
    const settings = (await store.permissionsOf([pipelineId])).get(pipelineId) ?? FOLLOWS_PROJECT;
    return effectiveOperations(settings, cred.role, cred.id).execute;
  }

  /** Starts the child run of a running sub-pipeline step, or fails the step saying why not. */
  async function startChild(s: {
    run_id: string;
    job_id: string;
    step_id: string;
  }): Promise<RunRecord | undefined> {
    const g = await store.getRunGraph(s.run_id);
    const step = g?.steps.find((x) => x.id === s.step_id);
    if (!g || !step || step.status !== "RUNNING") return undefined;
    const job = g.jobs.find((j) => j.id === step.job_id)!;
    const def = g.run.context.definition.stages[job.stage_idx]!.jobs[job.idx]!.steps[step.idx]!;
    const settings = subpipelineSettings(def);
    const ancestors = await ancestorsOf(g.run);
    const chain = [...ancestors].reverse().concat(g.run);
    const target = await store.getPipeline(settings.pipelineId);
    if (!target || target.project_id !== g.run.project_id) {
      await failStep(s.run_id, s.step_id, `sub-pipeline: the project has no pipeline ${settings.pipelineId}`);
      return undefined;
    }
    if (chain.some((r) => r.pipeline_id === target.id)) {
      const names = [...chain.map((r) => r.pipeline_name), target.name].join(" -> ");
      await failStep(
        s.run_id,
        s.step_id,
        `sub-pipeline refused (${ERRORS.SUBPIPELINE_CYCLE.code}): it would run a pipeline already running above it, a cycle: ${names}`,
      );
      return undefined;
    }
    if (chain.length > LIMITS.subpipelineDepth) {
      await failStep(
        s.run_id,
        s.step_id,
        `sub-pipeline refused (${ERRORS.SUBPIPELINE_TOO_DEEP.code}): ${chain.length} levels of sub-pipelines already run above it, the limit is ${LIMITS.subpipelineDepth} (limit subpipelineDepth)`,
      );
      return undefined;
    }
    const allowed = await mayRunChild(g.run, target.id);
    if (!allowed.ok) {
      await failStep(
        s.run_id,
        s.step_id,
        g.run.executor_name === allowed.who
          ? `sub-pipeline refused: ${allowed.who}, who started this run, may not run pipeline ${target.name}`
          : `sub-pipeline refused: ${allowed.who}, may not run pipeline ${target.name}`,
      );
      return undefined;
    }
    const options: RunOptions = {
      variables: settings.variables,
      trigger_type: SUBPIPELINE_TRIGGER,
      description: `run by ${g.run.pipeline_name} #${g.run.run_number}, job ${job.name}`,
      ...(settings.branch ? { sources: onBranch(target.spec.sources, settings.branch) } : {}),
    };
    try {
      return await start.runChild({
        pipelineId: target.id,
        options,
        executor: { id: g.run.executor_id, name: g.run.executor_name },
        parent: { runId: g.run.id, pipelineId: g.run.pipeline_id, jobId: job.id, stepId: step.id },
      });
    } catch (err) {
      // What a direct run would answer with a 4xx (a variable it does not take, say) fails the step.
      if (err instanceof PipewrightError && err.status < 500) {
        await failStep(s.run_id, s.step_id, `sub-pipeline ${target.name} could not start: ${err.message}`);
        return undefined;
      }
      throw err;
    }
  }

  async function follow(s: { run_id: string; step_id: string }, child: RunRecord): Promise<void> {
    const status = childResult(child);
    const message = `sub-pipeline ${child.pipeline_name} #${child.run_number} ${child.status}${child.message ? `: ${child.message}` : ""}`;
    await writer.mutate(s.run_id, (g) =>
      stepEndChanges(g, s.step_id, status, message.slice(0, 1000), now(), writer.nextSeq),
    );
  }

  return {
    async reconcile() {
      for (const s of await store.listRunningSteps(SUBPIPELINE_TASK)) {
        try {
          const child = (await store.childRunOfStep(s.step_id)) ?? (await startChild(s));
          if (child && TERMINAL_RUN_STATUSES.has(child.status)) await follow(s, child);
        } catch (err) {
          logger.error({ err, run: s.run_id, step: s.step_id }, "a sub-pipeline step could not go on");
        }
      }
    },
    childrenOf: (runId) => store.childRunsOf(runId),
  };
}

/** A pipeline's code sources, run at `branch` instead of their default branch. */
function onBranch(sources: readonly unknown[], branch: string): unknown[] {
  return sources.map((src) => {
    const s = src as { params?: Record<string, unknown> };
    if (!s.params) return src;
    const build = (s.params.build_params ?? {}) as Record<string, unknown>;
    return {
      ...s,
      params: { ...s.params, default_branch: branch, build_params: { ...build, target_branch: branch } },
    };
  });
}
