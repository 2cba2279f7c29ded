// The queue of ready jobs and the runners that take them: fair claims across projects, leases
// renewed by heartbeat, and the registry of runner agents.

import { type Kysely, sql } from "kysely";
import type { RunnerRecord } from "../run-records.js";
import type { Database } from "../schema.js";
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
    claimJobs: (req) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const lockClause = ctx.capabilities.supportsSkipLocked ? sql`FOR UPDATE SKIP LOCKED` : sql``;
        const candidates = await sql<{ id: string; labels: string }>`
          SELECT q.id, q.labels FROM (
            SELECT id, labels, project_id, ready_seq,
                   ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY ready_seq) AS turn
            FROM job_runs WHERE status IN ('QUEUED', 'REDISPATCH')
          ) q LEFT JOIN project_dispatch d ON d.project_id = q.project_id
          ORDER BY q.turn, COALESCE(d.last_claim, 0), q.ready_seq LIMIT ${req.limit * 4 + 16}`.execute(tx);
        const have = new Set(req.labels);
        const ids = candidates.rows
          .filter((c) => (JSON.parse(c.labels) as string[]).every((l) => have.has(l)))
          .slice(0, req.limit)
          .map((c) => c.id);
        if (ids.length === 0) return [];
        // Re-check the status under the lock (PostgreSQL) so two replicas never take the same job.
        const locked = await sql<{ id: string }>`
          SELECT id FROM job_runs WHERE id IN (${sql.join(ids)}) AND status IN ('QUEUED', 'REDISPATCH') ${lockClause}`.execute(
          tx,
        );
        const lockedIds = locked.rows.map((r) => r.id);
        if (lockedIds.length === 0) return [];
        const rows = await tx
          .updateTable("job_runs")
          .set((eb) => ({
            status: "RUNNING",
            attempt: eb("attempt", "+", 1),
            runner_id: req.runnerId,
            lease_expires: req.now + req.leaseMs,
            heartbeat_time: null,
            start_time: eb.case().when("start_time", "=", 0).then(req.now).else(eb.ref("start_time")).end(),
            message: null,
          }))
          .where("id", "in", lockedIds)
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
      }),

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
