// Cache entries: which blob a pipeline's job kept under a key for a branch, and when each was
// last used (the least recently used go first when a project is over its quota).

import type { CacheTable } from "../schema.js";
import type { CacheRecord, CacheStore } from "../store.js";
import type { SqlContext } from "./context.js";

const toCache = (r: CacheTable): CacheRecord => ({
  ...r,
  size: Number(r.size),
  create_time: Number(r.create_time),
  last_used: Number(r.last_used),
});

export function cacheQueries({ db }: SqlContext): CacheStore {
  return {
    async useCache(pipelineId, scope, key, now) {
      const row = await db
        .updateTable("caches")
        .set({ last_used: now })
        .where("pipeline_id", "=", pipelineId)
        .where("scope", "=", scope)
        .where("key", "=", key)
        .returningAll()
        .executeTakeFirst();
      return row && toCache(row);
    },
    async putCache(c) {
      const res = await db
        .insertInto("caches")
        .values(c)
        .onConflict((oc) => oc.columns(["pipeline_id", "scope", "key"]).doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async projectCaches(projectId) {
      const rows = await db
        .selectFrom("caches")
        .selectAll()
        .where("project_id", "=", projectId)
        .orderBy("last_used")
        .orderBy("create_time")
        .execute();
      const items = rows.map(toCache);
      return { items, bytes: items.reduce((n, c) => n + c.size, 0) };
    },
    async deleteCache(pipelineId, scope, key) {
      await db
        .deleteFrom("caches")
        .where("pipeline_id", "=", pipelineId)
        .where("scope", "=", scope)
        .where("key", "=", key)
        .execute();
    },
    async expireCaches(unusedSince, limit) {
      const rows = await db
        .selectFrom("caches")
        .selectAll()
        .where("last_used", "<", unusedSince)
        .orderBy("last_used")
        .limit(limit)
        .execute();
      for (const r of rows) {
        await db
          .deleteFrom("caches")
          .where("pipeline_id", "=", r.pipeline_id)
          .where("scope", "=", r.scope)
          .where("key", "=", r.key)
          .where("last_used", "<", unusedSince)
          .execute();
      }
      return { removed: rows.length, blobs: [...new Set(rows.map((r) => r.sha256))] };
    },
  };
}
