// Pipeline tags: a project's tags by name and colour, and the tags each pipeline carries.

import type { TagRecord, TagStore } from "../store.js";
import { DuplicateKey } from "../store.js";
import { CHUNK, inTransaction, type SqlContext } from "./context.js";
import { isUniqueViolation } from "./rows.js";

const toTag = (r: TagRecord): TagRecord => ({ ...r, create_time: Number(r.create_time) });
const unique = (err: unknown): never => {
  if (isUniqueViolation(err)) throw new DuplicateKey("tag");
  throw err;
};

export function tagQueries(ctx: SqlContext): TagStore {
  const { db } = ctx;
  return {
    async createTag(t) {
      await db.insertInto("tags").values(t).execute().catch(unique);
    },
    async listTags(projectId) {
      const rows = await db
        .selectFrom("tags")
        .selectAll()
        .where("project_id", "=", projectId)
        .orderBy("name")
        .execute();
      return rows.map(toTag);
    },
    async updateTag(projectId, id, name, color) {
      const res = await db
        .updateTable("tags")
        .set({ name, color })
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst()
        .catch(unique);
      return Number(res.numUpdatedRows) > 0;
    },
    async deleteTag(projectId, id) {
      const res = await db
        .deleteFrom("tags")
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    setPipelineTags: (pipelineIds, tagIds) =>
      inTransaction(ctx, async ({ db: tx }) => {
        for (let i = 0; i < pipelineIds.length; i += CHUNK) {
          const part = pipelineIds.slice(i, i + CHUNK);
          await tx.deleteFrom("pipeline_tags").where("pipeline_id", "in", part).execute();
          const rows = part.flatMap((pipeline_id) => tagIds.map((tag_id) => ({ pipeline_id, tag_id })));
          if (rows.length > 0) await tx.insertInto("pipeline_tags").values(rows).execute();
        }
      }),
    async tagsOfPipelines(pipelineIds) {
      const out = new Map<string, TagRecord[]>();
      if (pipelineIds.length === 0) return out;
      const rows = await db
        .selectFrom("pipeline_tags")
        .innerJoin("tags", "tags.id", "pipeline_tags.tag_id")
        .select([
          "pipeline_tags.pipeline_id",
          "tags.id",
          "tags.project_id",
          "tags.name",
          "tags.color",
          "tags.create_time",
        ])
        .where("pipeline_tags.pipeline_id", "in", pipelineIds)
        .orderBy("tags.name")
        .execute();
      for (const r of rows) {
        const { pipeline_id, ...tag } = r;
        const list = out.get(pipeline_id) ?? [];
        list.push(toTag(tag));
        out.set(pipeline_id, list);
      }
      return out;
    },
  };
}
