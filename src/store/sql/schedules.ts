// Pipelines' schedules: the rows the scheduler fires from, kept in step with each pipeline's
// spec, and moved on from a tick by compare-and-set so that one replica moves each tick on.

import type { Kysely } from "kysely";
import { nextTick, parseSchedule } from "../../pipeline/schedules.js";
import type { Database, ScheduleTable } from "../schema.js";
import type { PipelineSpec, ScheduleRecord, ScheduleStore } from "../store.js";
import type { SqlContext } from "./context.js";

function toSchedule(r: ScheduleTable): ScheduleRecord {
  const n = (v: number | null): number | null => (v === null ? null : Number(v));
  return {
    ...r,
    next_due: n(r.next_due),
    last_fired: n(r.last_fired),
    missed: Number(r.missed),
    last_missed: n(r.last_missed),
  };
}

/**
 * Writes a pipeline's schedule rows after its spec was written at `now`: an entry whose text is
 * unchanged keeps its state (its next tick, what it fired and missed); a new or changed one
 * starts with its first tick after `now`; rows of entries gone are deleted.
 */
export async function syncSchedules(
  db: Kysely<Database>,
  pipeline: { readonly id: string; readonly project_id: string; readonly spec: PipelineSpec },
  now: number,
): Promise<void> {
  const existing = await db
    .selectFrom("schedules")
    .selectAll()
    .where("pipeline_id", "=", pipeline.id)
    .execute();
  const byUuid = new Map(existing.map((r) => [r.uuid, r]));
  const keep = new Set<string>();
  for (const [i, raw] of pipeline.spec.schedules.entries()) {
    const s = parseSchedule(raw, `schedules[${i}]`);
    const body = JSON.stringify(raw);
    keep.add(s.uuid);
    const old = byUuid.get(s.uuid);
    if (old && old.body === body) continue;
    const row = {
      pipeline_id: pipeline.id,
      uuid: s.uuid,
      project_id: pipeline.project_id,
      body,
      next_due: nextTick(s, now) ?? null,
      last_fired: old?.last_fired ?? null,
      missed: old?.missed ?? 0,
      last_missed: old?.last_missed ?? null,
    };
    if (old) {
      await db
        .updateTable("schedules")
        .set(row)
        .where("pipeline_id", "=", pipeline.id)
        .where("uuid", "=", s.uuid)
        .execute();
    } else {
      await db.insertInto("schedules").values(row).execute();
    }
  }
  const gone = existing.filter((r) => !keep.has(r.uuid)).map((r) => r.uuid);
  if (gone.length > 0) {
    await db
      .deleteFrom("schedules")
      .where("pipeline_id", "=", pipeline.id)
      .where("uuid", "in", gone)
      .execute();
  }
}

export function scheduleQueries({ db }: SqlContext): ScheduleStore {
  return {
    async listSchedulesOf(pipelineId) {
      const rows = await db
        .selectFrom("schedules")
        .selectAll()
        .where("pipeline_id", "=", pipelineId)
        .execute();
      return rows.map(toSchedule);
    },

    async listDueSchedules(now, limit) {
      const rows = await db
        .selectFrom("schedules")
        .selectAll()
        .where("next_due", "is not", null)
        .where("next_due", "<=", now)
        .orderBy("next_due")
        .limit(limit)
        .execute();
      return rows.map(toSchedule);
    },

    async advanceSchedule(pipelineId, uuid, due, to) {
      const res = await db
        .updateTable("schedules")
        .set((eb) => ({
          next_due: to.next_due,
          ...(to.fired !== undefined ? { last_fired: to.fired } : {}),
          ...(to.missed ? { missed: eb("missed", "+", to.missed) } : {}),
          ...(to.last_missed !== undefined ? { last_missed: to.last_missed } : {}),
        }))
        .where("pipeline_id", "=", pipelineId)
        .where("uuid", "=", uuid)
        .where("next_due", "=", due)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
  };
}
