// Starting runs, the heart of the product: a batch of pipelines (DESIGN "Batch runs: the
// contract") or one pipeline with options. Every run of a call is created in one transaction,
// planned before it is inserted, and answered in request order; a batch with an Idempotency-Key
// stores the runs it created with the hash of its ids, so a repeat answers them again.

import crypto from "node:crypto";
import { yieldToEventLoop } from "../clock.js";
import { PipewrightError } from "../errors.js";
import type { RunPolicy } from "../pipeline/environment.js";
import type { Definition } from "../pipeline/types.js";
import { withGroupVariables } from "../pipeline/variable-groups.js";
import type { RunGraph, RunRecord } from "../store/run-records.js";
import { DuplicateKey, type Store } from "../store/store.js";
import { checkBatchIds, describeBatchIdProblems, wellFormedIds } from "./batch-ids.js";
import {
  buildRunGraph,
  decideStart,
  type Executor,
  type ParentLink,
  type RunOptions,
  resolveVariables,
  validateRunOptions,
} from "./create-runs.js";
import { applyChanges } from "./graph.js";
import type { RunNotices } from "./notices.js";
import type { RunEvents, RunWriter, Wakeups } from "./run-writer.js";

export interface BatchRunRequest {
  readonly projectId: string;
  readonly pipelineIds: readonly string[];
  readonly executor: Executor;
  /** Makes a retried request safe: the same key with the same ids answers the first runs. */
  readonly idempotencyKey?: string | undefined;
  /** What every run of the batch starts with (a trigger's type and sources); default none. */
  readonly options?: RunOptions | undefined;
  /** What a pipeline's run starts with instead (a code event: each pipeline's own sources). */
  readonly optionsOf?: ReadonlyMap<string, RunOptions> | undefined;
  /**
   * The ids are the pipelines of this group ("Run group"): the size checks name the group, and an
   * Idempotency-Key stands for the group, not for the pipelines it holds at the time.
   */
  readonly group?: { readonly id: string; readonly name: string } | undefined;
}

export interface StartedRun {
  readonly pipelineId: string;
  readonly runId: string;
}

export interface BatchRunResult {
  /** In request order. */
  readonly runs: readonly StartedRun[];
  /** True when an earlier request with the same Idempotency-Key created these runs. */
  readonly replayed: boolean;
}

export interface RunOneRequest {
  readonly pipelineId: string;
  readonly options: RunOptions;
  readonly executor: Executor;
}

export interface StartRuns {
  batchRun(req: BatchRunRequest): Promise<BatchRunResult>;
  /**
   * The child run of a sub-pipeline step: created unless the step already has one (answered
   * then), in one transaction with the check, the parent step named on the child.
   */
  runChild(req: RunOneRequest & { readonly parent: ParentLink }): Promise<RunRecord>;
  /** The run's record as created: START_FAILED when the pipeline is disabled or at an ABORT limit. */
  runOne(req: RunOneRequest): Promise<RunRecord>;
}

/** Runs with more jobs and steps than this give the event loop a turn while they are made. */
const LARGE_RUN_NODES = 2000;

interface StartItem {
  readonly pipelineId: string;
  readonly options: RunOptions;
  readonly parent?: ParentLink | undefined;
}

export function createStartRuns(deps: {
  readonly store: Store;
  readonly writer: RunWriter;
  readonly events: RunEvents;
  readonly wake: Wakeups;
  readonly now: () => number;
  readonly newId: () => string;
  readonly maxBatchSize: number;
  readonly policy: RunPolicy;
  /** Told of the new runs of pipelines with `concurrency_control.supersede`, after the commit. */
  readonly superseding?: ((runs: readonly RunRecord[]) => void) | undefined;
  /** Writes the notices of runs that end as they are created (refused starts). */
  readonly notices?: RunNotices | undefined;
}): StartRuns {
  const { store, writer, events, wake, now, newId } = deps;
  /** The graphs created of pipelines that supersede their older runs of a branch. */
  const superseding = new WeakSet<RunGraph>();

  /** Creates the runs in `tx` (ids distinct): ban state, variables and limits as of now. */
  async function createRuns(tx: Store, items: readonly StartItem[], executor: Executor): Promise<RunGraph[]> {
    const fresh = new Map(
      (await tx.allocateRunNumbers(items.map((it) => it.pipelineId))).map((p) => [p.id, p]),
    );
    const defs: Definition[] = [];
    for (const it of items) {
      const p = fresh.get(it.pipelineId);
      if (!p) throw new PipewrightError("PIPELINE_NOT_FOUND", `Pipeline ${it.pipelineId} does not exist.`);
      const def = await writer.definitionOf(p);
      validateRunOptions(p, def, it.options, deps.policy);
      defs.push(def);
    }
    const limited = [...fresh.values()].filter((p) => p.spec.concurrency_control?.enable).map((p) => p.id);
    const counts = await tx.countActiveRuns(limited);
    // Read in the run's transaction: the run keeps the groups' values as of its creation.
    const groups = await tx.variableGroupsOfPipelines([...fresh.keys()]);
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
      const resolved = resolveVariables(p.spec.variables, it.options.variables);
      const { advanced } = resolved;
      const values = withGroupVariables(resolved.values, groups.get(p.id) ?? []);
      if (advanced && start.kind !== "refused") {
        await tx.updatePipelineSpec(p.id, { ...p.spec, variables: advanced });
        fresh.set(p.id, { ...p, spec: { ...p.spec, variables: advanced } });
      }
      const g = buildRunGraph({
        pipeline: p,
        definition: defs[i]!,
        runId: newId(),
        runNumber: p.run_counter,
        options: it.options,
        variables: values,
        executor,
        now: t,
        queueSeq: writer.nextSeq(),
        start,
        newId,
        parent: it.parent,
      });
      // A run near the size limits takes tens of milliseconds to build and as many to plan:
      // the event loop gets a turn in between, as the store gives it between bulk rows.
      const large = g.jobs.length + g.steps.length > LARGE_RUN_NODES;
      if (large) await yieldToEventLoop();
      // Plan before inserting: the first stage and its jobs are written ready to go.
      const planned = applyChanges(g, writer.plan(g, t));
      graphs.push(planned);
      if (p.spec.concurrency_control?.supersede) superseding.add(planned);
      if (large) await yieldToEventLoop();
    }
    await tx.insertRunGraphs(graphs);
    await deps.notices?.changedMany(
      tx,
      graphs.map((g) => ({ before: undefined, after: g.run })),
      t,
    );
    return graphs;
  }

  /** After the commit: the new runs are remembered as written, and whoever waits is told. */
  function started(graphs: readonly RunGraph[]): void {
    writer.created(graphs);
    const runs = graphs.map((g) => g.run);
    for (const r of runs) events.changed(r.id);
    if (runs.some((r) => !r.admitted && r.status === "QUEUED")) wake.waiting();
    wake.dispatch();
    const newer = graphs.filter((g) => superseding.has(g)).map((g) => g.run);
    if (newer.length > 0) deps.superseding?.(newer);
  }

  /** The runs of these ids, in this order, with their pipelines. */
  async function runsOf(tx: Store, runIds: readonly string[]): Promise<StartedRun[]> {
    const byId = new Map((await tx.getRuns(runIds)).map((r) => [r.id, r.pipeline_id]));
    return runIds.flatMap((runId) => {
      const pipelineId = byId.get(runId);
      return pipelineId === undefined ? [] : [{ pipelineId, runId }];
    });
  }

  return {
    async batchRun(req) {
      const ids = req.pipelineIds;
      const group = req.group;
      if (group && ids.length === 0) {
        throw new PipewrightError(
          "GROUP_HAS_NO_PIPELINES",
          `group_id: the group "${group.name}" and the groups below it hold no pipeline; nothing was started.`,
        );
      }
      if (group && ids.length > deps.maxBatchSize) {
        throw new PipewrightError(
          "GROUP_TOO_LARGE_FOR_BATCH",
          `group_id: the group "${group.name}" holds ${ids.length} pipelines, more than the ${deps.maxBatchSize} one batch may start (--max-batch-size); nothing was started. Run its subgroups one by one.`,
        );
      }
      if (ids.length === 0 || ids.length > deps.maxBatchSize) {
        throw new PipewrightError(
          "BATCH_TOO_LARGE",
          `pipeline_ids: must hold 1 to ${deps.maxBatchSize} ids, got ${ids.length}.`,
        );
      }
      const problems = checkBatchIds(ids, req.projectId, await store.getPipelineProjects(wellFormedIds(ids)));
      if (problems) {
        throw new PipewrightError("BATCH_INVALID_IDS", describeBatchIdProblems(problems), {
          extra: { invalid_pipeline_ids: problems },
        });
      }
      const key = req.idempotencyKey;
      const bodyHash = crypto
        .createHash("sha256")
        .update(JSON.stringify(group ? { group_id: group.id } : ids))
        .digest("hex");
      // A bad request throws inside the transaction, which then writes nothing.
      const attempt = () =>
        store.transaction(async (tx): Promise<BatchRunResult & { created: RunGraph[] }> => {
          if (key !== undefined) {
            const prior = await tx.findBatch(req.projectId, key);
            if (prior) {
              if (prior.body_hash !== bodyHash) {
                throw new PipewrightError(
                  "IDEMPOTENCY_KEY_REUSED",
                  `Idempotency-Key "${key}" was used with another body.`,
                );
              }
              // The same hash means the same ids in the same order as the runs stored; a
              // group's pipelines may have changed since, so its runs say whose they are.
              const runs = group
                ? await runsOf(tx, prior.run_ids)
                : ids.map((pipelineId, i) => ({ pipelineId, runId: prior.run_ids[i]! }));
              return { runs, replayed: true, created: [] };
            }
          }
          const created = await createRuns(
            tx,
            ids.map((pipelineId) => ({
              pipelineId,
              options: req.optionsOf?.get(pipelineId) ?? req.options ?? {},
            })),
            req.executor,
          );
          if (key !== undefined) {
            await tx.insertBatch({
              project_id: req.projectId,
              idempotency_key: key,
              body_hash: bodyHash,
              run_ids: created.map((g) => g.run.id),
              create_time: now(),
            });
          }
          return {
            runs: created.map((g) => ({ pipelineId: g.run.pipeline_id, runId: g.run.id })),
            replayed: false,
            created,
          };
        });
      let result: BatchRunResult & { created: RunGraph[] };
      try {
        result = await attempt();
      } catch (err) {
        // The same key committed by another request in the meantime (another replica, a client
        // retrying before the first answer): this transaction rolled back, and a second one
        // reads that request's runs.
        if (!(err instanceof DuplicateKey && key !== undefined)) throw err;
        result = await attempt();
      }
      started(result.created);
      return { runs: result.runs, replayed: result.replayed };
    },

    async runChild(req) {
      const attempt = () =>
        store.transaction(async (tx) => {
          const existing = await tx.childRunOfStep(req.parent.stepId);
          if (existing) return { existing, created: [] as RunGraph[] };
          return { existing: undefined, created: await createRuns(tx, [req], req.executor) };
        });
      let result: Awaited<ReturnType<typeof attempt>>;
      try {
        result = await attempt();
      } catch (err) {
        // Another replica (or pass) started the step's child meanwhile: the unique index on the
        // parent step refused this one, and the child there is the answer.
        const existing = await store.childRunOfStep(req.parent.stepId);
        if (!existing) throw err;
        return existing;
      }
      if (result.existing) return result.existing;
      started(result.created);
      return result.created[0]!.run;
    },

    async runOne(req) {
      const [g] = await store.transaction((tx) => createRuns(tx, [req], req.executor));
      started([g!]);
      return g!.run;
    },
  };
}
