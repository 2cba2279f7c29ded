// What retention removes, in small batches the sweep asks for one at a time (each its own short
// transaction: the API never waits behind a large delete), and what each project uses.

import { sql } from "kysely";
import { TERMINAL_RUN_STATUSES } from "../../pipeline/vocabulary.js";
import type { ProjectUsage, RetentionStore } from "../store.js";
import { inTransaction, type SqlContext } from "./context.js";

const ENDED = [...TERMINAL_RUN_STATUSES];

export function retentionQueries(ctx: SqlContext): RetentionStore {
  const { db } = ctx;
  return {
    async expiredRuns(q) {
      const ids = new Set<string>();
      if (q.endedBefore !== undefined) {
        const rows = await db
          .selectFrom("pipeline_runs")
          .select("id")
          .where("status", "in", ENDED)
          .where("end_time", ">", 0)
          .where("end_time", "<", q.endedBefore)
          .orderBy("end_time")
          .limit(q.limit)
          .execute();
        for (const r of rows) ids.add(r.id);
      }
      if (q.keepPerPipeline !== undefined && ids.size < q.limit) {
        // Ended runs more than `keepPerPipeline` run numbers behind their pipeline's latest: the
        // (pipeline_id, run_number) index answers it, and only pipelines with that many runs look.
        const rows = await db
          .selectFrom("pipeline_runs")
          .innerJoin("pipelines", "pipelines.id", "pipeline_runs.pipeline_id")
          .select("pipeline_runs.id")
          .where("pipelines.run_counter", ">", q.keepPerPipeline)
          .where((eb) =>
            eb(
              "pipeline_runs.run_number",
              "<=",
              eb(eb.ref("pipelines.run_counter"), "-", q.keepPerPipeline!),
            ),
          )
          .where("pipeline_runs.status", "in", ENDED)
          .limit(q.limit - ids.size)
          .execute();
        for (const r of rows) ids.add(r.id);
      }
      return [...ids];
    },

    deleteRuns: (ids) =>
      inTransaction(ctx, async ({ db: tx }) => {
        if (ids.length === 0) return [];
        const blobs = await tx.selectFrom("artifacts").select("sha256").where("run_id", "in", ids).execute();
        const steps = tx.selectFrom("step_runs").select("id").where("run_id", "in", ids);
        await tx.deleteFrom("step_logs").where("step_id", "in", steps).execute();
        const kept = tx.selectFrom("step_attempts").select("id").where("run_id", "in", ids);
        await tx.deleteFrom("step_logs").where("step_id", "in", kept).execute();
        // Stages, jobs, steps, attempts and artifact records go with their run (ON DELETE CASCADE).
        await tx.deleteFrom("pipeline_runs").where("id", "in", ids).where("status", "in", ENDED).execute();
        return [...new Set(blobs.map((b) => b.sha256))];
      }),

    async dropLogs(endedBefore, limit) {
      const steps = await db
        .selectFrom("step_runs")
        .innerJoin("pipeline_runs", "pipeline_runs.id", "step_runs.run_id")
        .select("step_runs.id")
        .where("step_runs.log_bytes", ">", 0)
        .where("pipeline_runs.status", "in", ENDED)
        .where("pipeline_runs.end_time", ">", 0)
        .where("pipeline_runs.end_time", "<", endedBefore)
        .limit(limit)
        .execute();
      const ids = steps.map((s) => s.id);
      if (ids.length === 0) return 0;
      await inTransaction(ctx, async ({ db: tx }) => {
        await tx.deleteFrom("step_logs").where("step_id", "in", ids).execute();
        await tx.updateTable("step_runs").set({ log_bytes: 0 }).where("id", "in", ids).execute();
      });
      return ids.length;
    },

    async expireArtifacts(before, limit) {
      const rows = await db
        .selectFrom("artifacts")
        .select(["run_id", "name", "sha256"])
        .where("create_time", "<", before)
        .orderBy("create_time")
        .limit(limit)
        .execute();
      for (const r of rows) {
        await db.deleteFrom("artifacts").where("run_id", "=", r.run_id).where("name", "=", r.name).execute();
      }
      return { removed: rows.length, blobs: [...new Set(rows.map((r) => r.sha256))] };
    },

    async unreferencedBlobs(shas) {
      if (shas.length === 0) return [];
      const used = await db.selectFrom("artifacts").select("sha256").where("sha256", "in", shas).execute();
      const cached = await db.selectFrom("caches").select("sha256").where("sha256", "in", shas).execute();
      const still = new Set([...used, ...cached].map((u) => u.sha256));
      return shas.filter((s) => !still.has(s));
    },

    async expireIdempotency(before, limit) {
      const batches = await db
        .deleteFrom("batches")
        .where(
          sql<string>`idempotency_key || ' ' || project_id`,
          "in",
          db
            .selectFrom("batches")
            .select(sql<string>`idempotency_key || ' ' || project_id`.as("k"))
            .where("create_time", "<", before)
            .limit(limit),
        )
        .executeTakeFirst();
      const deliveries = await db
        .deleteFrom("deliveries")
        .where(
          "id",
          "in",
          db.selectFrom("deliveries").select("id").where("create_time", "<", before).limit(limit),
        )
        .executeTakeFirst();
      return Number(batches.numDeletedRows) + Number(deliveries.numDeletedRows);
    },

    async usage() {
      const projects = await db.selectFrom("projects").select(["id", "name"]).orderBy("name").execute();
      const runs = await db
        .selectFrom("pipeline_runs")
        .select(["project_id", (eb) => eb.fn.countAll<number>().as("n")])
        .groupBy("project_id")
        .execute();
      const logs = await db
        .selectFrom("step_runs")
        .innerJoin("pipeline_runs", "pipeline_runs.id", "step_runs.run_id")
        .select(["pipeline_runs.project_id", (eb) => eb.fn.sum<number>("step_runs.log_bytes").as("bytes")])
        .groupBy("pipeline_runs.project_id")
        .execute();
      const arts = await db
        .selectFrom("artifacts")
        .select([
          "project_id",
          (eb) => eb.fn.sum<number>("size").as("bytes"),
          (eb) => eb.fn.countAll<number>().as("n"),
        ])
        .groupBy("project_id")
        .execute();
      const cached = await db
        .selectFrom("caches")
        .select([
          "project_id",
          (eb) => eb.fn.sum<number>("size").as("bytes"),
          (eb) => eb.fn.countAll<number>().as("n"),
        ])
        .groupBy("project_id")
        .execute();
      const by = <T extends { project_id: string }>(rows: T[]) => new Map(rows.map((r) => [r.project_id, r]));
      const c = by(cached);
      const r = by(runs);
      const l = by(logs);
      const a = by(arts);
      return projects.map(
        (p): ProjectUsage => ({
          project_id: p.id,
          name: p.name,
          runs: Number(r.get(p.id)?.n ?? 0),
          log_bytes: Number(l.get(p.id)?.bytes ?? 0),
          artifacts: Number(a.get(p.id)?.n ?? 0),
          artifact_bytes: Number(a.get(p.id)?.bytes ?? 0),
          caches: Number(c.get(p.id)?.n ?? 0),
          cache_bytes: Number(c.get(p.id)?.bytes ?? 0),
        }),
      );
    },
  };
}
