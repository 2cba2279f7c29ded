// The queue of ready jobs and the runners that take them: fair claims across projects, leases
// renewed by heartbeat, and the registry of runner agents.

import { type ExpressionBuilder, type Kysely, sql } from "kysely";
import type { ClaimedJob, RunnerRecord } from "../run-records.js";
import type { Database, JobRunTable } from "../schema.js";
import type { JobQueueStore } from "../store.js";
import { inTransaction, type SqlContext } from "./context.js";
import { toJob } from "./rows.js";

function toRunner(r: Database["runners"]): RunnerRecord {
  return {
    ...r,
    labels: JSON.parse(r.labels),
    slots: Number(r.slots),
    create_time: Number(r.create_time),
    last_seen: Number(r.last_seen),
  };
}

/** Bumps the version of each run (its records changed); answers the new versions. */
async function bumpVersions(db: Kysely<Database>, runIds: readonly string[]) {
  if (runIds.length === 0) return [];
  return db
    .updateTable("pipeline_runs")
    .set((eb) => ({ version: eb("version", "+", 1) }))
    .where("id", "in", runIds)
    .returning(["id", "version"])
    .execute();
}

/** A job waiting for a runner (the partial indexes' own terms: literal, see runs.ts). */
const QUEUED = sql<boolean>`status IN ('QUEUED', 'REDISPATCH')`;

/**
 * The first `take` queued jobs of each project with any (all that can be in turn for a claim of
 * `take`), in queue order per project, with when each project was last served. The projects
 * come from the queue's index one probe each, the jobs from a range of it: a claim reads a few
 * rows per waiting project, where ranking every queued job cost a millisecond per claim with a
 * thousand queued. PostgreSQL takes each project's head through LATERAL; SQLite, which has no
 * LATERAL, through the bound of each head (CROSS JOIN keeps the projects the outer loop).
 */
function heads(tx: Kysely<Database>, take: number, postgres: boolean) {
  const waiting = sql`WITH RECURSIVE waiting(project_id) AS (
      SELECT (SELECT project_id FROM job_runs WHERE ${QUEUED} ORDER BY project_id LIMIT 1)
      UNION ALL
      SELECT (SELECT j.project_id FROM job_runs j
              WHERE j.status IN ('QUEUED', 'REDISPATCH') AND j.project_id > w.project_id
              ORDER BY j.project_id LIMIT 1)
      FROM waiting w WHERE w.project_id IS NOT NULL
    )`;
  type Head = { id: string; labels: string; project_id: string; ready_seq: number; last_claim: number };
  if (postgres) {
    return sql<Head>`${waiting}
      SELECT j.id, j.labels, j.project_id, j.ready_seq, COALESCE(d.last_claim, 0) AS last_claim
      FROM waiting w CROSS JOIN LATERAL (
        SELECT k.id, k.labels, k.project_id, k.ready_seq FROM job_runs k
        WHERE k.project_id = w.project_id AND k.status IN ('QUEUED', 'REDISPATCH')
        ORDER BY k.project_id, k.ready_seq LIMIT ${take}) j
      LEFT JOIN project_dispatch d ON d.project_id = w.project_id
      WHERE w.project_id IS NOT NULL
      ORDER BY j.project_id, j.ready_seq`.execute(tx);
  }
  return sql<Head>`${waiting}, bounds AS MATERIALIZED (
      SELECT w.project_id, COALESCE(
        (SELECT k.ready_seq FROM job_runs k
         WHERE k.project_id = w.project_id AND k.status IN ('QUEUED', 'REDISPATCH')
         ORDER BY k.project_id, k.ready_seq LIMIT 1 OFFSET ${take - 1}),
        ${Number.MAX_SAFE_INTEGER}) AS bound
      FROM waiting w WHERE w.project_id IS NOT NULL
    )
    SELECT j.id, j.labels, j.project_id, j.ready_seq, COALESCE(d.last_claim, 0) AS last_claim
    FROM bounds b CROSS JOIN job_runs j ON j.project_id = b.project_id AND j.ready_seq <= b.bound
    LEFT JOIN project_dispatch d ON d.project_id = b.project_id
    WHERE j.status IN ('QUEUED', 'REDISPATCH')
    ORDER BY j.project_id, j.ready_seq`.execute(tx);
}

/** What a claim needs to take the jobs it picked. */
type ClaimRequest = Parameters<JobQueueStore["claimJobs"]>[0];

/** The columns a claim sets on each job it takes. */
function takenBy(eb: ExpressionBuilder<Database, "job_runs">, req: ClaimRequest) {
  return {
    status: "RUNNING" as const,
    attempt: eb("attempt", "+", 1),
    runner_id: req.runnerId,
    lease_expires: req.now + req.leaseMs,
    heartbeat_time: null,
    start_time: eb.case().when("start_time", "=", 0).then(req.now).else(eb.ref("start_time")).end(),
    message: null,
  };
}

/**
 * Takes the picked jobs that are still queued, a statement at a time (SQLite: one writer, and
 * statements cost no round trip): the jobs, their runs' versions, the projects' turns.
 */
async function take(tx: Kysely<Database>, ids: readonly string[], req: ClaimRequest): Promise<ClaimedJob[]> {
  const rows = await tx
    .updateTable("job_runs")
    .set((eb) => takenBy(eb, req))
    .where("id", "in", ids)
    .where("status", "in", ["QUEUED", "REDISPATCH"])
    .returningAll()
    .execute();
  const jobs = rows.map(toJob).sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
  const versions = new Map<string, number>();
  for (const v of await bumpVersions(tx, [...new Set(jobs.map((j) => j.run_id))]))
    versions.set(v.id, Number(v.version));
  const claimed = jobs.map((j) => ({ ...j, run_version: versions.get(j.run_id)! }));
  // Each project served by this claim, at its last job's turn.
  const lastOf = new Map<string, number>();
  for (const [i, job] of claimed.entries()) lastOf.set(job.project_id, req.now * 1000 + i);
  for (const [projectId, last] of lastOf) {
    await tx
      .insertInto("project_dispatch")
      .values({ project_id: projectId, last_claim: last })
      .onConflict((oc) => oc.column("project_id").doUpdateSet({ last_claim: last }))
      .execute();
  }
  return claimed;
}

/**
 * The same in one statement (PostgreSQL, where each statement is a round trip and most of a
 * claim's cost): lock the picked jobs still queued, skipping those another replica is taking,
 * take them, bump their runs' versions and record the projects' turns, all at once.
 */
async function takeInOneStatement(
  tx: Kysely<Database>,
  ids: readonly string[],
  req: ClaimRequest,
): Promise<ClaimedJob[]> {
  const res = await sql<JobRunTable & { run_version: string | number }>`
    WITH picked AS (
      SELECT id, ord FROM unnest(${ids}::text[]) WITH ORDINALITY AS p(id, ord)
    ), locked AS (
      SELECT j.id FROM job_runs j JOIN picked USING (id)
      WHERE j.status IN ('QUEUED', 'REDISPATCH') FOR UPDATE OF j SKIP LOCKED
    ), taken AS (
      UPDATE job_runs AS t SET status = 'RUNNING', attempt = t.attempt + 1, runner_id = ${req.runnerId},
        lease_expires = ${req.now + req.leaseMs}::bigint, heartbeat_time = NULL,
        start_time = CASE WHEN t.start_time = 0 THEN ${req.now}::bigint ELSE t.start_time END, message = NULL
      FROM locked WHERE t.id = locked.id
      RETURNING t.*
    ), bumped AS (
      UPDATE pipeline_runs AS r SET version = r.version + 1
      WHERE r.id IN (SELECT run_id FROM taken)
      RETURNING r.id, r.version
    ), turns AS (
      INSERT INTO project_dispatch (project_id, last_claim)
      SELECT taken.project_id, ${req.now * 1000}::bigint + max(picked.ord)
      FROM taken JOIN picked USING (id) GROUP BY taken.project_id
      ON CONFLICT (project_id) DO UPDATE SET last_claim = excluded.last_claim
    )
    SELECT taken.*, bumped.version AS run_version FROM taken JOIN bumped ON bumped.id = taken.run_id`.execute(
    tx,
  );
  return res.rows.map(({ run_version, ...row }) => ({ ...toJob(row), run_version: Number(run_version) }));
}

export function jobQueueQueries(ctx: SqlContext): JobQueueStore {
  const { db } = ctx;
  return {
    /**
     * Claims up to `limit` queued jobs for a runner, round-robin across projects: the n-th queued
     * job of every project comes before the (n+1)-th of any, and among projects the one served
     * least recently goes first (so a project's thousand-job batch cannot starve another's single
     * job even when one slot frees at a time); FIFO within a project. PostgreSQL skips rows other
     * replicas are claiming; SQLite has a single writer and needs no skipping.
     */
    claimJobs: async (req) => {
      /** The jobs next in turn that the runner's labels allow. */
      const pick = async (tx: Kysely<Database>): Promise<string[]> => {
        const take = req.limit * 4 + 16;
        const rows = (await heads(tx, take, ctx.capabilities.dialect === "postgres")).rows;
        // Turn order: the n-th queued job of every project before the (n+1)-th of any; among
        // projects, the one served least recently first; then FIFO.
        const turn = new Map<string, number>();
        const ordered = rows
          .map((r) => {
            const n = (turn.get(r.project_id) ?? 0) + 1;
            turn.set(r.project_id, n);
            return { ...r, turn: n, last: Number(r.last_claim), seq: Number(r.ready_seq) };
          })
          .sort((a, b) => a.turn - b.turn || a.last - b.last || a.seq - b.seq);
        const have = new Set(req.labels);
        return ordered
          .slice(0, take)
          .filter((c) => (JSON.parse(c.labels) as string[]).every((l) => have.has(l)))
          .slice(0, req.limit)
          .map((c) => c.id);
      };
      const inOrder = (ids: readonly string[], jobs: ClaimedJob[]): ClaimedJob[] =>
        jobs.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
      if (ctx.capabilities.dialect === "postgres") {
        // No transaction around the two: the taking statement re-checks each job under its row
        // lock, so a job picked here that another replica took meanwhile is merely left out.
        const ids = await pick(db);
        return ids.length === 0 ? [] : inOrder(ids, await takeInOneStatement(db, ids, req));
      }
      return inTransaction(ctx, async ({ db: tx }) => {
        const ids = await pick(tx);
        return ids.length === 0 ? [] : take(tx, ids, req);
      });
    },

    async renewLease(jobId, attempt, until, runnerId) {
      let q = db
        .updateTable("job_runs")
        .set({ lease_expires: until, heartbeat_time: until })
        .where("id", "=", jobId)
        .where("attempt", "=", attempt)
        .where("status", "=", "RUNNING");
      if (runnerId !== undefined) q = q.where("runner_id", "=", runnerId);
      const res = await q.executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    renewLeases: (jobs, until, runnerId) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const out: boolean[] = [];
        for (const j of jobs) {
          const res = await tx
            .updateTable("job_runs")
            .set({ lease_expires: until, heartbeat_time: until })
            .where("id", "=", j.id)
            .where("attempt", "=", j.attempt)
            .where("status", "=", "RUNNING")
            .where("runner_id", "=", runnerId)
            .executeTakeFirst();
          out.push(Number(res.numUpdatedRows) > 0);
        }
        return out;
      }),

    async expireLeasesOf(runnerId, now) {
      const res = await db
        .updateTable("job_runs")
        .set({ lease_expires: now - 1 })
        .where("runner_id", "=", runnerId)
        .where("status", "=", "RUNNING")
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },

    releaseJobs: (jobs, opts) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const runs = new Set<string>();
        for (const j of jobs) {
          let q = tx
            .updateTable("job_runs")
            .set((eb) => ({
              status: eb.case().when("lost", ">", 0).then("REDISPATCH").else("QUEUED").end(),
              runner_id: null,
              lease_expires: null,
            }))
            .where("id", "=", j.id)
            .where("attempt", "=", j.attempt)
            .where("status", "=", "RUNNING");
          if (opts?.unconfirmedOnly) q = q.where("heartbeat_time", "is", null);
          const row = await q.returning("run_id").executeTakeFirst();
          if (row) runs.add(row.run_id);
        }
        await bumpVersions(tx, [...runs]);
      }),

    async graceLeases(until) {
      await db
        .updateTable("job_runs")
        .set({ lease_expires: until })
        .where("status", "=", "RUNNING")
        .where("lease_expires", "<", until)
        .execute();
    },

    async listExpiredLeases(now) {
      const rows = await db
        .selectFrom("job_runs")
        .selectAll()
        .where("status", "=", "RUNNING")
        .where("lease_expires", "<", now)
        .limit(1000)
        .execute();
      return rows.map(toJob);
    },

    /** Jobs RUNNING on the given runner (used at restart to find the work that died with us). */
    async listRunningJobsOf(runnerId) {
      const rows = await db
        .selectFrom("job_runs")
        .selectAll()
        .where("status", "=", "RUNNING")
        .where("runner_id", "=", runnerId)
        .execute();
      return rows.map(toJob);
    },

    async upsertRunner(r) {
      const row = { ...r, labels: JSON.stringify(r.labels) };
      await db
        .insertInto("runners")
        .values(row)
        .onConflict((oc) =>
          oc.column("id").doUpdateSet({
            credential_id: r.credential_id,
            name: r.name,
            labels: row.labels,
            slots: r.slots,
            version: r.version,
            last_seen: r.last_seen,
          }),
        )
        .execute();
    },

    async touchRunner(id, now) {
      const res = await db
        .updateTable("runners")
        .set({ last_seen: now })
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    async getRunner(id) {
      const row = await db.selectFrom("runners").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toRunner(row);
    },

    async listRunners() {
      const rows = await db.selectFrom("runners").selectAll().orderBy("create_time").execute();
      return rows.map(toRunner);
    },
  };
}
