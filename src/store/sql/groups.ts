// Pipeline groups: a project's tree of groups (each knows its parent, its path of ids from the
// root and its place among its siblings), and the group column of each pipeline.

import type { GroupRecord, GroupStore } from "../store.js";
import { DuplicateKey } from "../store.js";
import { CHUNK, inTransaction, type SqlContext } from "./context.js";
import { isUniqueViolation } from "./rows.js";

const num = (v: number | null): number | null => (v === null ? null : Number(v));
const toGroup = (r: GroupRecord): GroupRecord => ({
  ...r,
  ordinal: Number(r.ordinal),
  create_time: Number(r.create_time),
  update_time: num(r.update_time),
});
const unique = (err: unknown): never => {
  if (isUniqueViolation(err)) throw new DuplicateKey("pipeline group");
  throw err;
};

export function groupQueries(ctx: SqlContext): GroupStore {
  const { db } = ctx;
  return {
    createGroup: (g) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const last = await tx
          .selectFrom("pipeline_groups")
          .select((eb) => eb.fn.max("ordinal").as("max"))
          .where("project_id", "=", g.project_id)
          .where("parent_id", "=", g.parent_id)
          .executeTakeFirst();
        const row: GroupRecord = { ...g, ordinal: Number(last?.max ?? 0) + 1 };
        await tx.insertInto("pipeline_groups").values(row).execute();
        return row;
      }).catch(unique),

    async listGroups(projectId) {
      const rows = await db
        .selectFrom("pipeline_groups")
        .selectAll()
        .where("project_id", "=", projectId)
        .orderBy("ordinal")
        .orderBy("create_time")
        .execute();
      return rows.map(toGroup);
    },

    async getGroup(projectId, id) {
      const row = await db
        .selectFrom("pipeline_groups")
        .selectAll()
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst();
      return row && toGroup(row);
    },

    async renameGroup(projectId, id, name, updater, now) {
      const res = await db
        .updateTable("pipeline_groups")
        .set({ name, updater, update_time: now })
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst()
        .catch(unique);
      return Number(res.numUpdatedRows) > 0;
    },

    deleteGroup: (projectId, id) =>
      inTransaction(ctx, async ({ db: tx }) => {
        const group = await tx
          .selectFrom("pipeline_groups")
          .select("path_id")
          .where("project_id", "=", projectId)
          .where("id", "=", id)
          .executeTakeFirst();
        if (!group) return 0;
        // The group and every group below it: their paths start with its path and a dot.
        const doomed = (
          await tx
            .selectFrom("pipeline_groups")
            .select("id")
            .where("project_id", "=", projectId)
            .where((eb) =>
              eb.or([eb("path_id", "=", group.path_id), eb("path_id", "like", `${group.path_id}.%`)]),
            )
            .execute()
        ).map((r) => r.id);
        for (let i = 0; i < doomed.length; i += CHUNK) {
          const part = doomed.slice(i, i + CHUNK);
          await tx
            .updateTable("pipelines")
            .set({ group_id: null })
            .where("project_id", "=", projectId)
            .where("group_id", "in", part)
            .execute();
          await tx.deleteFrom("pipeline_groups").where("id", "in", part).execute();
        }
        return doomed.length;
      }),

    swapGroups: (a, b, updater, now) =>
      inTransaction(ctx, async ({ db: tx }) => {
        for (const [g, ordinal] of [
          [a, b.ordinal],
          [b, a.ordinal],
        ] as const) {
          await tx
            .updateTable("pipeline_groups")
            .set({ ordinal, updater, update_time: now })
            .where("id", "=", g.id)
            .execute();
        }
      }),

    movePipelinesToGroup: (pipelineIds, groupId) =>
      inTransaction(ctx, async ({ db: tx }) => {
        for (let i = 0; i < pipelineIds.length; i += CHUNK) {
          await tx
            .updateTable("pipelines")
            .set({ group_id: groupId })
            .where("id", "in", pipelineIds.slice(i, i + CHUNK))
            .execute();
        }
      }),

    async pipelineIdsInGroup(projectId, pathId, limit) {
      const groups = db
        .selectFrom("pipeline_groups")
        .select("id")
        .where("project_id", "=", projectId)
        .where((eb) => eb.or([eb("path_id", "=", pathId), eb("path_id", "like", `${pathId}.%`)]));
      const rows = await db
        .selectFrom("pipelines")
        .select("id")
        .where("project_id", "=", projectId)
        .where("group_id", "in", groups)
        .orderBy("name")
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },

    async countPipelinesByGroup(projectId) {
      const rows = await db
        .selectFrom("pipelines")
        .select(["group_id", (eb) => eb.fn.countAll<number>().as("n")])
        .where("project_id", "=", projectId)
        .groupBy("group_id")
        .execute();
      return new Map(rows.map((r) => [r.group_id, Number(r.n)]));
    },
  };
}
