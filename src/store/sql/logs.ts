// Step logs as chunks keyed by their byte offset, so a resent chunk lands on itself.

import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { LogStore } from "../store.js";
import { holdsJob, inTransaction, ownsJobLog, type SqlContext } from "./context.js";

export function logQueries(ctx: SqlContext): LogStore {
  const { db } = ctx;
  async function append(tx: Kysely<Database>, stepId: string, startOffset: number, text: string) {
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
  }
  return {
    appendLog: (stepId, startOffset, text, fence) =>
      inTransaction(ctx, async ({ db: tx }) => {
        if (fence && !(await holdsJob(tx, fence))) return false;
        await append(tx, stepId, startOffset, text);
        return true;
      }),

    appendLogs: (chunks) =>
      inTransaction(ctx, async ({ db: tx }) => {
        // One fence check per job of the batch.
        const holds = new Map<string, boolean>();
        const jobOfStep = new Map<string, string | undefined>();
        const out: boolean[] = [];
        for (const c of chunks) {
          const key = `${c.fence.jobId}/${c.fence.attempt}/${c.fence.runnerId ?? ""}`;
          let ok = holds.get(key);
          if (ok === undefined) {
            ok = await ownsJobLog(tx, c.fence);
            holds.set(key, ok);
          }
          // Only a step of that job: a runner cannot write into another job's log.
          if (ok && !jobOfStep.has(c.stepId)) {
            const row = await tx
              .selectFrom("step_runs")
              .select("job_id")
              .where("id", "=", c.stepId)
              .executeTakeFirst();
            jobOfStep.set(c.stepId, row?.job_id);
          }
          const mine = ok && jobOfStep.get(c.stepId) === c.fence.jobId;
          if (mine) await append(tx, c.stepId, c.offset, c.text);
          out.push(mine);
        }
        return out;
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
