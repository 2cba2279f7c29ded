// Idempotency records of batch runs: the hash of a batch's pipeline ids and the runs it created.

import { type BatchStore, DuplicateKey } from "../store.js";
import type { SqlContext } from "./context.js";
import { isUniqueViolation } from "./rows.js";

export function batchQueries({ db }: SqlContext): BatchStore {
  return {
    async findBatch(projectId, key) {
      const row = await db
        .selectFrom("batches")
        .selectAll()
        .where("project_id", "=", projectId)
        .where("idempotency_key", "=", key)
        .executeTakeFirst();
      return row && { ...row, run_ids: JSON.parse(row.run_ids), create_time: Number(row.create_time) };
    },
    async insertBatch(b) {
      try {
        await db
          .insertInto("batches")
          .values({ ...b, run_ids: JSON.stringify(b.run_ids) })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new DuplicateKey("batch");
        throw err;
      }
    },
  };
}
