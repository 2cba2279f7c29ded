// Step logs as chunks keyed by their byte offset, so a resent chunk lands on itself.

import type { LogStore } from "../store.js";
import { holdsJob, inTransaction, type SqlContext } from "./context.js";

export function logQueries(ctx: SqlContext): LogStore {
  const { db } = ctx;
  return {
    appendLog: (stepId, startOffset, text, fence) =>
      inTransaction(ctx, async ({ db: tx }) => {
        if (fence && !(await holdsJob(tx, fence))) return false;
        const end = startOffset + Buffer.byteLength(text);
        await tx
          .insertInto("step_logs")
          .values({ step_id: stepId, start_offset: startOffset, text })
          .onConflict((oc) => oc.columns(["step_id", "start_offset"]).doNothing())
          .execute();
        await tx
          .updateTable("step_runs")
          .set({ log_bytes: end })
          .where("id", "=", stepId)
          .where("log_bytes", "<", end)
          .execute();
        return true;
      }),

    async readLog(stepId, from, to) {
      // The chunk that contains `from` starts at or before it: include the last such chunk.
      const first = await db
        .selectFrom("step_logs")
        .select("start_offset")
        .where("step_id", "=", stepId)
        .where("start_offset", "<=", from)
        .orderBy("start_offset", "desc")
        .limit(1)
        .executeTakeFirst();
      let q = db
        .selectFrom("step_logs")
        .select(["start_offset", "text"])
        .where("step_id", "=", stepId)
        .where("start_offset", ">=", first ? Number(first.start_offset) : 0);
      if (to !== undefined) q = q.where("start_offset", "<", to);
      const rows = await q.orderBy("start_offset").execute();
      return rows.map((r) => ({ start_offset: Number(r.start_offset), text: r.text }));
    },
  };
}
