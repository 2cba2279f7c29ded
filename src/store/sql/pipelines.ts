// Pipeline definitions: create, read, replace, ban, list, delete (with everything of their runs),
// and the run counter each run number is taken from.

import { sql } from "kysely";
import type { PipelineTable } from "../schema.js";
import type { PipelineRecord, PipelineStore } from "../store.js";
import { CHUNK, inTransaction, type SqlContext } from "./context.js";
import { visibleToSql } from "./permissions.js";
import { syncPolls } from "./polls.js";
import { bool, specText, toPipeline } from "./rows.js";
import { syncSchedules } from "./schedules.js";

/** Escapes LIKE wildcards so a name filter matches literally. */
function likePattern(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function pipelineQueries(ctx: SqlContext): PipelineStore {
  const { db, sealer } = ctx;
  const toRecord = (row: PipelineTable): PipelineRecord => toPipeline(row, sealer);
  return {
    createPipeline: (p) =>
      inTransaction(ctx, async ({ db: tx }) => {
        await tx
          .insertInto("pipelines")
          .values({
            ...p,
            is_publish: bool(p.is_publish),
            banned: 0,
            spec: specText(p.spec, sealer),
            run_counter: 0,
            component_id: p.spec.component_id ?? "",
            group_id: p.spec.group_id ?? null,
          })
          .execute();
        await syncSchedules(tx, p, p.create_time);
        await syncPolls(tx, p, p.create_time);
      }),

    async getPipeline(id) {
      const row = await db.selectFrom("pipelines").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toRecord(row);
    },

    async getPipelines(ids) {
      const out: PipelineRecord[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const rows = await db
          .selectFrom("pipelines")
          .selectAll()
          .where("id", "in", ids.slice(i, i + CHUNK))
          .execute();
        out.push(...rows.map(toRecord));
      }
      return out;
    },

    async getPipelineProjects(ids) {
      const out = new Map<string, string>();
      for (let i = 0; i < ids.length; i += CHUNK) {
        const rows = await db
          .selectFrom("pipelines")
          .select(["id", "project_id"])
          .where("id", "in", ids.slice(i, i + CHUNK))
          .execute();
        for (const r of rows) out.set(r.id, r.project_id);
      }
      return out;
    },

    async findPipelineByName(projectId, name) {
      const row = await db
        .selectFrom("pipelines")
        .selectAll()
        .where("project_id", "=", projectId)
        .where("name", "=", name)
        .executeTakeFirst();
      return row && toRecord(row);
    },

    updatePipeline: (id, f) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const row = await tx
          .updateTable("pipelines")
          .set({
            ...f,
            is_publish: bool(f.is_publish),
            spec: specText(f.spec, sealer),
            component_id: f.spec.component_id ?? "",
            group_id: f.spec.group_id ?? null,
          })
          .where("id", "=", id)
          .returning("project_id")
          .executeTakeFirst();
        if (!row) return false;
        await syncSchedules(tx, { id, project_id: row.project_id, spec: f.spec }, f.update_time);
        await syncPolls(tx, { id, project_id: row.project_id, spec: f.spec }, f.update_time);
        return true;
      }),

    deletePipeline: (id) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const runs = tx.selectFrom("pipeline_runs").select("id").where("pipeline_id", "=", id);
        const steps = tx.selectFrom("step_runs").select("id").where("run_id", "in", runs);
        await tx.deleteFrom("step_logs").where("step_id", "in", steps).execute();
        // And the logs of kept attempts (their rows go with the run).
        const kept = tx.selectFrom("step_attempts").select("id").where("run_id", "in", runs);
        await tx.deleteFrom("step_logs").where("step_id", "in", kept).execute();
        // Stage, job and step runs go with their run (ON DELETE CASCADE).
        await tx.deleteFrom("pipeline_runs").where("pipeline_id", "=", id).execute();
        await tx.deleteFrom("schedules").where("pipeline_id", "=", id).execute();
        const res = await tx.deleteFrom("pipelines").where("id", "=", id).executeTakeFirst();
        return Number(res.numDeletedRows) > 0;
      }),

    async setPipelineBanned(id, banned, now) {
      const res = await db
        .updateTable("pipelines")
        .set({ banned: bool(banned), update_time: now })
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    async listPipelines(q) {
      const projects = q.project_ids ?? [q.project_id];
      const latest = q.latest;
      let base = db
        .selectFrom("pipelines")
        .where("pipelines.project_id", "in", projects.length > 0 ? projects : [""]);
      // lower() on both sides: SQLite LIKE ignores ASCII case, PostgreSQL LIKE does not.
      if (q.name)
        base = base.where(sql<boolean>`lower(pipelines.name) like lower(${likePattern(q.name)}) escape '\\'`);
      if (q.banned !== undefined) base = base.where("pipelines.banned", "=", bool(q.banned));
      if (q.is_publish !== undefined) base = base.where("pipelines.is_publish", "=", bool(q.is_publish));
      if (q.component_id !== undefined) base = base.where("pipelines.component_id", "=", q.component_id);
      if (q.visible_to !== undefined && q.visible_to.role !== "admin")
        base = base.where(visibleToSql("pipelines.id", q.visible_to));
      if (q.tag_ids !== undefined) {
        const tagged = db
          .selectFrom("pipeline_tags")
          .select("pipeline_tags.pipeline_id")
          .where("pipeline_tags.tag_id", "in", q.tag_ids.length > 0 ? q.tag_ids : [""]);
        base = base.where("pipelines.id", "in", tagged);
      }
      if (q.group !== undefined) {
        const { path_id, subgroups } = q.group;
        if (path_id === null) base = base.where("pipelines.group_id", "is", null);
        else {
          const inGroups = db
            .selectFrom("pipeline_groups")
            .select("pipeline_groups.id")
            .where((eb) =>
              subgroups
                ? eb.or([
                    eb("pipeline_groups.path_id", "=", path_id),
                    eb("pipeline_groups.path_id", "like", `${path_id}.%`),
                  ])
                : eb("pipeline_groups.path_id", "=", path_id),
            );
          base = base.where("pipelines.group_id", "in", inGroups);
        }
      }
      if (q.creator_ids !== undefined)
        base = base.where("pipelines.creator_id", "in", q.creator_ids.length > 0 ? q.creator_ids : [""]);
      if (latest) {
        // The latest run is the one of the pipeline's last run number (one index lookup each).
        base = base.where((eb) => {
          let lr = eb
            .selectFrom("pipeline_runs as lr")
            .select("lr.id")
            .whereRef("lr.pipeline_id", "=", "pipelines.id")
            .whereRef("lr.run_number", "=", "pipelines.run_counter");
          if (latest.statuses !== undefined)
            lr = lr.where("lr.status", "in", latest.statuses.length > 0 ? latest.statuses : [""]);
          if (latest.executor_ids !== undefined)
            lr = lr.where(
              "lr.executor_id",
              "in",
              latest.executor_ids.length > 0 ? latest.executor_ids : [""],
            );
          if (latest.started_from !== undefined) lr = lr.where("lr.start_time", ">=", latest.started_from);
          if (latest.started_to !== undefined) lr = lr.where("lr.start_time", "<=", latest.started_to);
          return eb.exists(lr);
        });
      }
      const [count, rows] = await Promise.all([
        base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
        base
          .selectAll("pipelines")
          .orderBy(`pipelines.${q.sort_key}`, q.sort_dir)
          .orderBy("pipelines.id", q.sort_dir)
          .limit(q.limit)
          .offset(q.offset)
          .execute(),
      ]);
      return { total: Number(count.n), items: rows.map(toRecord) };
    },

    async updatePipelineSpec(id, spec) {
      await db
        .updateTable("pipelines")
        .set({ spec: specText(spec, sealer) })
        .where("id", "=", id)
        .execute();
    },

    /**
     * Takes the next run number of each pipeline (ids must be distinct) in one statement, and
     * answers the pipelines as they are now, `run_counter` being the new run's number. In
     * PostgreSQL the row locks this takes also serialise concurrent starts of one pipeline.
     */
    async allocateRunNumbers(pipelineIds) {
      const out: PipelineRecord[] = [];
      for (let i = 0; i < pipelineIds.length; i += CHUNK) {
        const rows = await db
          .updateTable("pipelines")
          .set((eb) => ({ run_counter: eb("run_counter", "+", 1) }))
          .where("id", "in", pipelineIds.slice(i, i + CHUNK))
          .returningAll()
          .execute();
        out.push(...rows.map(toRecord));
      }
      return out;
    },
  };
}
