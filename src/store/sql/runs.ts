// Runs and their stage, job and step records: written as whole graphs at creation, changed as
// patch sets in one transaction (fenced when a runner writes), read back as graphs and pages.

import { type Kysely, sql } from "kysely";
import { ACTIVE_RUN_STATUSES, TERMINAL_NODE_STATUSES } from "../../pipeline/vocabulary.js";
import type { JobAttemptRecord, JobFence, RunChanges, RunRecord } from "../run-records.js";
import type { Database, RunTable } from "../schema.js";
import type { RunStore } from "../store.js";
import {
  CHUNK,
  holdsJob,
  inTransaction,
  ROWS_PER_TURN,
  type SqlContext,
  yieldToEventLoop,
} from "./context.js";
import { visibleToSql } from "./permissions.js";
import {
  bool,
  boolPatch,
  jobRow,
  runPatch,
  runRow,
  stageRow,
  stepPatch,
  stepRow,
  toJob,
  toRun,
  toStage,
  toStep,
} from "./rows.js";

/**
 * Literal, not bound: SQLite uses a partial index (runs_active) only for a query
 * whose WHERE holds the index's own terms, which a `?` never matches; bound, every admission pass
 * scanned all runs ever made.
 */
const ACTIVE = sql<boolean>`status IN (${sql.join(ACTIVE_RUN_STATUSES.map((s) => sql.lit(s)))})`;
const NOT_ADMITTED = sql<boolean>`admitted = 0`;

export function runQueries(ctx: SqlContext): RunStore {
  const { db, definitions, bulk, sealer } = ctx;

  /** A run's changes inside the transaction `tx`: its row first (bumped), then its nodes. */
  async function applyOne(
    tx: Kysely<Database>,
    runId: string,
    changes: RunChanges,
    fence?: JobFence,
  ): Promise<number | undefined> {
    if (fence && !(await holdsJob(tx, fence))) return undefined;
    const { run, stages = [], jobs = [], steps = [], clearLogsOf = [], keepAttempts = [] } = changes;
    const { id: _id, ...patch } = run ?? { id: runId };
    const bumped = await tx
      .updateTable("pipeline_runs")
      .set((eb) => ({ ...runPatch(patch), version: eb("version", "+", 1) }))
      .where("id", "=", runId)
      .returning("version")
      .executeTakeFirst();
    if (!bumped) return undefined;
    if (keepAttempts.length > 0) await keep(tx, keepAttempts);
    for (const { id, ...patch } of stages) {
      await tx.updateTable("stage_runs").set(boolPatch(patch)).where("id", "=", id).execute();
    }
    for (const { id, ...patch } of jobs) {
      const p = boolPatch(patch);
      if (patch.labels) p.labels = JSON.stringify(patch.labels);
      await tx.updateTable("job_runs").set(p).where("id", "=", id).execute();
    }
    for (const { id, ...patch } of steps) {
      await tx.updateTable("step_runs").set(stepPatch(patch)).where("id", "=", id).execute();
    }
    if (clearLogsOf.length > 0) {
      await tx.deleteFrom("step_logs").where("step_id", "in", clearLogsOf).execute();
      await tx.updateTable("step_runs").set({ log_bytes: 0 }).where("id", "in", clearLogsOf).execute();
    }
    return Number(bumped.version);
  }

  /** Turns run rows into records, loading the definitions they refer to. */
  async function toRuns(rows: readonly RunTable[]): Promise<RunRecord[]> {
    const missing = [...new Set(rows.map((r) => r.definition_hash))].filter((h) => !definitions.get(h));
    if (missing.length > 0) {
      const defs = await db.selectFrom("definitions").selectAll().where("hash", "in", missing).execute();
      for (const d of defs) definitions.put(d.hash, JSON.parse(d.body));
    }
    return rows.map((r) => {
      const def = definitions.get(r.definition_hash);
      if (!def) throw new Error(`run ${r.id}: definition ${r.definition_hash} is missing`);
      return toRun(r, def, sealer);
    });
  }

  async function getRun(id: string): Promise<RunRecord | undefined> {
    const row = await db.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && (await toRuns([row]))[0];
  }

  /** Stores job attempts a retry keeps, moving their steps' logs to the kept steps' ids. */
  async function keep(tx: typeof db, attempts: readonly JobAttemptRecord[]): Promise<void> {
    const stepIds = attempts.flatMap((a) => a.steps.map((s) => s.step_id));
    // What is stored, not what the caller saw: log text may have been appended since.
    const bytes = new Map<string, number>();
    for (let i = 0; i < stepIds.length; i += CHUNK) {
      const rows = await tx
        .selectFrom("step_runs")
        .select(["id", "log_bytes"])
        .where("id", "in", stepIds.slice(i, i + CHUNK))
        .execute();
      for (const r of rows) bytes.set(r.id, Number(r.log_bytes));
    }
    for (const a of attempts) {
      const { steps, ...job } = a;
      await tx.insertInto("job_attempts").values(job).execute();
      for (const s of steps) {
        await tx
          .insertInto("step_attempts")
          .values({ ...s, run_id: a.run_id, job_attempt_id: a.id, log_bytes: bytes.get(s.step_id) ?? 0 })
          .execute();
        await tx.updateTable("step_logs").set({ step_id: s.id }).where("step_id", "=", s.step_id).execute();
      }
    }
    for (let i = 0; i < stepIds.length; i += CHUNK) {
      await tx
        .updateTable("step_runs")
        .set({ log_bytes: 0 })
        .where("id", "in", stepIds.slice(i, i + CHUNK))
        .execute();
    }
  }

  const store: RunStore = {
    async getJobAttempts(runId) {
      const [jobs, steps] = await Promise.all([
        db
          .selectFrom("job_attempts")
          .selectAll()
          .where("run_id", "=", runId)
          .orderBy("job_id")
          .orderBy("attempt")
          .execute(),
        db.selectFrom("step_attempts").selectAll().where("run_id", "=", runId).orderBy("idx").execute(),
      ]);
      return jobs.map((j) => ({
        id: j.id,
        run_id: j.run_id,
        job_id: j.job_id,
        attempt: Number(j.attempt),
        status: j.status as JobAttemptRecord["status"],
        message: j.message,
        start_time: Number(j.start_time),
        end_time: Number(j.end_time),
        steps: steps
          .filter((s) => s.job_attempt_id === j.id)
          .map((s) => ({
            id: s.id,
            step_id: s.step_id,
            idx: Number(s.idx),
            status: s.status as JobAttemptRecord["status"],
            message: s.message,
            start_time: Number(s.start_time),
            end_time: Number(s.end_time),
            log_bytes: Number(s.log_bytes),
          })),
      }));
    },

    /** Active (admitted, unfinished) and waiting runs per pipeline, for concurrency control. */
    async countActiveRuns(pipelineIds) {
      const out = new Map<string, { admitted: number; waiting: number }>();
      for (let i = 0; i < pipelineIds.length; i += CHUNK) {
        const rows = await db
          .selectFrom("pipeline_runs")
          .select(["pipeline_id", "admitted", (eb) => eb.fn.countAll<number>().as("n")])
          .where("pipeline_id", "in", pipelineIds.slice(i, i + CHUNK))
          .where(ACTIVE)
          .groupBy(["pipeline_id", "admitted"])
          .execute();
        for (const r of rows) {
          const e = out.get(r.pipeline_id) ?? { admitted: 0, waiting: 0 };
          if (Number(r.admitted) === 1) e.admitted += Number(r.n);
          else e.waiting += Number(r.n);
          out.set(r.pipeline_id, e);
        }
      }
      return out;
    },

    async insertRunGraphs(graphs) {
      const newDefs = new Map<string, string>();
      const runs = graphs.map((g) => {
        const { hash, json } = definitions.hash(g.run.context.definition);
        if (!definitions.stored.has(hash))
          newDefs.set(hash, json ?? JSON.stringify(g.run.context.definition));
        return runRow(g.run, hash, sealer);
      });
      if (newDefs.size > 0) {
        const rows = [...newDefs].map(([hash, body]) => ({ hash, body }));
        for (let i = 0; i < rows.length; i += CHUNK) {
          await db
            .insertInto("definitions")
            .values(rows.slice(i, i + CHUNK))
            .onConflict((oc) => oc.column("hash").doNothing())
            .execute();
        }
        // Marked before the commit: were the transaction rolled back, the next insert of such a
        // run would miss its definition, so a failed transaction clears the marks (inTransaction).
        for (const h of newDefs.keys()) definitions.stored.add(h);
        // Hashing a large definition took its time: others get a turn before the rows.
        await yieldToEventLoop();
      }
      await bulk.insert(db, "pipeline_runs", runs);
      await bulk.insert(
        db,
        "stage_runs",
        graphs.flatMap((g) => g.stages.map(stageRow)),
      );
      await bulk.insert(
        db,
        "job_runs",
        graphs.flatMap((g) => g.jobs.map(jobRow)),
      );
      await bulk.insert(
        db,
        "step_runs",
        graphs.flatMap((g) => g.steps.map(stepRow)),
      );
    },

    getRun,

    async getRuns(ids) {
      const out: RunRecord[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const rows = await db
          .selectFrom("pipeline_runs")
          .selectAll()
          .where("id", "in", ids.slice(i, i + CHUNK))
          .execute();
        out.push(...(await toRuns(rows)));
      }
      return out;
    },

    async getLatestRun(pipelineId) {
      const row = await db
        .selectFrom("pipeline_runs")
        .selectAll()
        .where("pipeline_id", "=", pipelineId)
        .orderBy("run_number", "desc")
        .limit(1)
        .executeTakeFirst();
      return row && (await toRuns([row]))[0];
    },

    async getRunByNumber(pipelineId, runNumber) {
      const row = await db
        .selectFrom("pipeline_runs")
        .selectAll()
        .where("pipeline_id", "=", pipelineId)
        .where("run_number", "=", runNumber)
        .executeTakeFirst();
      return row && (await toRuns([row]))[0];
    },

    async getRunGraph(id) {
      const run = await getRun(id);
      if (!run) return undefined;
      const stages = await db
        .selectFrom("stage_runs")
        .selectAll()
        .where("run_id", "=", id)
        .orderBy("idx")
        .execute();
      // A large run is read in slices, with the event loop getting a turn between them.
      const jobs = [];
      for (let after: readonly [number, number] | undefined; ; ) {
        let q = db.selectFrom("job_runs").selectAll().where("run_id", "=", id);
        if (after) q = q.where(sql<boolean>`(stage_idx, idx) > (${after[0]}, ${after[1]})`);
        const rows = await q.orderBy("stage_idx").orderBy("idx").limit(ROWS_PER_TURN).execute();
        jobs.push(...rows.map(toJob));
        if (rows.length < ROWS_PER_TURN) break;
        const last = rows[rows.length - 1]!;
        after = [Number(last.stage_idx), Number(last.idx)];
        await yieldToEventLoop();
      }
      const steps = [];
      for (let after: readonly [string, number] | undefined; ; ) {
        let q = db.selectFrom("step_runs").selectAll().where("run_id", "=", id);
        if (after) q = q.where(sql<boolean>`(job_id, idx) > (${after[0]}, ${after[1]})`);
        const rows = await q.orderBy("job_id").orderBy("idx").limit(ROWS_PER_TURN).execute();
        steps.push(...rows.map(toStep));
        if (rows.length < ROWS_PER_TURN) break;
        const last = rows[rows.length - 1]!;
        after = [last.job_id, Number(last.idx)];
        await yieldToEventLoop();
      }
      return { run, stages: stages.map(toStage), jobs, steps };
    },

    async getStagesOfRuns(runIds) {
      if (runIds.length === 0) return [];
      const rows = await db
        .selectFrom("stage_runs")
        .selectAll()
        .where("run_id", "in", runIds)
        .orderBy("idx")
        .execute();
      return rows.map(toStage);
    },

    async getJob(id) {
      const row = await db.selectFrom("job_runs").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toJob(row);
    },

    async getStepsOfJob(runId, jobId) {
      const rows = await db
        .selectFrom("step_runs")
        .selectAll()
        .where("run_id", "=", runId)
        .where("job_id", "=", jobId)
        .orderBy("idx")
        .execute();
      return rows.map(toStep);
    },

    async getStep(id) {
      const row = await db.selectFrom("step_runs").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toStep(row);
    },

    applyRunChanges: (runId, changes, fence) =>
      inTransaction(ctx, async ({ db: tx }) => applyOne(tx, runId, changes, fence)),

    applyManyRunChanges: (items) =>
      inTransaction(ctx, async ({ db: tx }) => {
        if (items.length === 1) {
          const [only] = items;
          const v = await applyOne(tx, only!.runId, only!.changes);
          return new Map(v === undefined ? [] : [[only!.runId, v]]);
        }
        const out = new Map<string, number>();
        // Attempts to keep and logs to clear are rare (a retry): those runs go the one-run way.
        const rare = items.filter(
          (it) => (it.changes.keepAttempts?.length ?? 0) + (it.changes.clearLogsOf?.length ?? 0) > 0,
        );
        for (const it of rare) {
          const v = await applyOne(tx, it.runId, it.changes);
          if (v !== undefined) out.set(it.runId, v);
        }
        const common = items.filter((it) => !rare.includes(it));
        if (common.length === 0) return out;
        const versions = await bulk.update(
          tx,
          "pipeline_runs",
          common.map(({ runId, changes }) => {
            const { id: _id, ...patch } = changes.run ?? { id: runId };
            return { ...runPatch(patch), id: runId };
          }),
          { bumpVersion: true },
        );
        const there = common.filter((it) => versions.has(it.runId));
        await bulk.update(
          tx,
          "stage_runs",
          there.flatMap((it) => (it.changes.stages ?? []).map(({ id, ...p }) => ({ ...boolPatch(p), id }))),
        );
        await bulk.update(
          tx,
          "job_runs",
          there.flatMap((it) =>
            (it.changes.jobs ?? []).map(({ id, ...patch }) => {
              const p = boolPatch(patch);
              if (patch.labels) p.labels = JSON.stringify(patch.labels);
              return { ...p, id };
            }),
          ),
        );
        await bulk.update(
          tx,
          "step_runs",
          there.flatMap((it) => (it.changes.steps ?? []).map(({ id, ...p }) => ({ ...stepPatch(p), id }))),
        );
        for (const [id, v] of versions) out.set(id, v);
        return out;
      }),

    failRun: (runId, message, now) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const res = await tx
          .updateTable("pipeline_runs")
          .set((eb) => ({
            status: "FAILED",
            message,
            end_time: now,
            update_time: now,
            version: eb("version", "+", 1),
          }))
          .where("id", "=", runId)
          .where(ACTIVE)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return false;
        const open = [...TERMINAL_NODE_STATUSES];
        await tx
          .updateTable("stage_runs")
          .set({ status: "FAILED", end_time: now })
          .where("run_id", "=", runId)
          .where("status", "not in", open)
          .execute();
        await tx
          .updateTable("job_runs")
          .set({ status: "FAILED", message, end_time: now, lease_expires: null })
          .where("run_id", "=", runId)
          .where("status", "not in", open)
          .execute();
        await tx
          .updateTable("step_runs")
          .set({ status: "FAILED", message, end_time: now, deadline: null })
          .where("run_id", "=", runId)
          .where("status", "not in", open)
          .execute();
        return true;
      }),

    async lockRun(id) {
      const lock = ctx.capabilities.supportsSkipLocked ? sql` FOR UPDATE` : sql``;
      const row = await sql<{
        version: number;
      }>`SELECT version FROM pipeline_runs WHERE id = ${id}${lock}`.execute(db);
      const r = row.rows[0];
      return r === undefined ? undefined : Number(r.version);
    },

    async lockRuns(ids) {
      const out = new Map<string, number>();
      const sorted = [...ids].sort();
      const lock = ctx.capabilities.supportsSkipLocked ? sql` FOR UPDATE` : sql``;
      for (let i = 0; i < sorted.length; i += CHUNK) {
        const part = sorted.slice(i, i + CHUNK);
        // Ordered, so that two writers locking overlapping sets cannot wait for each other.
        const rows = await sql<{ id: string; version: number }>`SELECT id, version FROM pipeline_runs
          WHERE id IN (${sql.join(part)}) ORDER BY id${lock}`.execute(db);
        for (const r of rows.rows) out.set(r.id, Number(r.version));
      }
      return out;
    },

    async listActiveRunIds(pipelineId) {
      let q = db.selectFrom("pipeline_runs").select("id").where(ACTIVE);
      if (pipelineId !== undefined) q = q.where("pipeline_id", "=", pipelineId);
      const rows = await q.orderBy("queue_seq").execute();
      return rows.map((r) => r.id);
    },

    /** Runs waiting for admission, oldest first. */
    async listWaitingRuns(limit) {
      const rows = await db
        .selectFrom("pipeline_runs")
        .selectAll()
        .where(ACTIVE)
        .where(NOT_ADMITTED)
        .orderBy("queue_seq")
        .limit(limit)
        .execute();
      return toRuns(rows);
    },

    /** How many runs of the pipeline wait for admission ahead of queue_seq. */
    async countWaitingBefore(pipelineId, queueSeq) {
      const row = await db
        .selectFrom("pipeline_runs")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("pipeline_id", "=", pipelineId)
        .where(ACTIVE)
        .where(NOT_ADMITTED)
        .where("queue_seq", "<", queueSeq)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** The earliest manual-review deadline among waiting steps, if any. */
    async nextReviewDeadline() {
      const row = await db
        .selectFrom("step_runs")
        .select(["id", "run_id", "deadline"])
        .where("status", "=", "PAUSED")
        .where("deadline", "is not", null)
        .orderBy("deadline")
        .limit(1)
        .executeTakeFirst();
      return row && { step_id: row.id, run_id: row.run_id, deadline: Number(row.deadline) };
    },

    async childRunsOf(runId) {
      const rows = await db
        .selectFrom("pipeline_runs")
        .selectAll()
        .where("parent_run_id", "=", runId)
        .orderBy("create_time")
        .execute();
      return toRuns(rows);
    },

    async childRunOfStep(stepId) {
      const row = await db
        .selectFrom("pipeline_runs")
        .selectAll()
        .where("parent_step_id", "=", stepId)
        .executeTakeFirst();
      return row && (await toRuns([row]))[0];
    },

    async listRunningSteps(task) {
      return (
        db
          .selectFrom("step_runs")
          .select(["run_id", "job_id", "id as step_id"])
          // Literal, so that SQLite uses the partial index step_runs_running_task (see ACTIVE).
          .where(sql<boolean>`status = 'RUNNING'`)
          .where("task", "=", task)
          .execute()
      );
    },

    async listRuns(q) {
      let base = db.selectFrom("pipeline_runs").where("pipeline_id", "=", q.pipeline_id);
      const filtered =
        (q.statuses?.length ?? 0) > 0 ||
        q.start_time !== undefined ||
        q.end_time !== undefined ||
        q.update_time !== undefined ||
        q.admitted !== undefined;
      if (q.statuses && q.statuses.length > 0) base = base.where("status", "in", q.statuses);
      if (q.admitted !== undefined) base = base.where("admitted", "=", bool(q.admitted));
      if (q.start_time !== undefined) base = base.where("start_time", ">=", q.start_time);
      if (q.end_time !== undefined) base = base.where("start_time", "<=", q.end_time);
      if (q.update_time !== undefined) base = base.where("update_time", ">=", q.update_time);
      // Sorting by run_number stands in for start_time: both grow together and run_number is indexed.
      const order = q.sort_key === "start_time" ? "run_number" : "update_time";
      const rows = await base
        .selectAll()
        .orderBy(order, q.sort_dir)
        .orderBy("run_number", q.sort_dir)
        .limit(q.limit)
        .offset(q.offset)
        .execute();
      let total: number;
      if (filtered) {
        const c = await base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
        total = Number(c.n);
      } else {
        // Runs are only ever deleted with their pipeline, so the counter is the count: O(1) at any size.
        const p = await db
          .selectFrom("pipelines")
          .select("run_counter")
          .where("id", "=", q.pipeline_id)
          .executeTakeFirst();
        total = Number(p?.run_counter ?? 0);
      }
      return { total, items: await toRuns(rows) };
    },

    async listProjectRuns(q) {
      let base = db.selectFrom("pipeline_runs").where("project_id", "=", q.project_id);
      if (q.pipeline_ids !== undefined)
        base = base.where("pipeline_id", "in", q.pipeline_ids.length > 0 ? q.pipeline_ids : [""]);
      if (q.statuses !== undefined)
        base = base.where("status", "in", q.statuses.length > 0 ? q.statuses : [""]);
      if (q.trigger_types !== undefined)
        base = base.where("trigger_type", "in", q.trigger_types.length > 0 ? q.trigger_types : [""]);
      if (q.from !== undefined) base = base.where("create_time", ">=", q.from);
      if (q.to !== undefined) base = base.where("create_time", "<=", q.to);
      if (q.visible_to !== undefined && q.visible_to.role !== "admin")
        base = base.where(visibleToSql("pipeline_runs.pipeline_id", q.visible_to));
      const [count, rows] = await Promise.all([
        base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
        base
          .selectAll()
          .orderBy("create_time", "desc")
          .orderBy("id", "desc")
          .limit(q.limit)
          .offset(q.offset)
          .execute(),
      ]);
      return { total: Number(count.n), items: await toRuns(rows) };
    },

    /** The latest run of each pipeline that has one. */
    async latestRuns(pipelineIds) {
      if (pipelineIds.length === 0) return [];
      // One probe of (pipeline_id, run_number) per pipeline; a subquery per run of those
      // pipelines read every run they ever had.
      const rows = await db
        .selectFrom("pipelines as p")
        .innerJoin("pipeline_runs as r", (join) =>
          join.onRef("r.pipeline_id", "=", "p.id").onRef("r.run_number", "=", "p.run_counter"),
        )
        .selectAll("r")
        .where("p.id", "in", pipelineIds)
        .execute();
      return toRuns(rows);
    },
  };
  return store;
}
