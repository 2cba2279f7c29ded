// Notification targets (URLs and HMAC secrets sealed at rest) and the outbox of deliveries. A
// sender takes a delivery with one conditional UPDATE (due, and unheld or its lease run out):
// of two replicas racing for a row, the database lets one update it, so none is sent twice at
// once; the claim it wrote fences the result, so a sender whose lease ran out records nothing.

import type { NoticeDeliveryTable, NoticeTargetTable } from "../schema.js";
import type {
  NoticeDeliveryRecord,
  NoticeDeliveryStatus,
  NoticeStore,
  NoticeTargetRecord,
} from "../store.js";
import { CHUNK, type SqlContext } from "./context.js";

function toDelivery(r: NoticeDeliveryTable): NoticeDeliveryRecord {
  return {
    id: r.id,
    project_id: r.project_id,
    pipeline_id: r.pipeline_id,
    target_id: r.target_id,
    run_id: r.run_id,
    event: r.event,
    message: r.message,
    status: r.status as NoticeDeliveryStatus,
    attempts: Number(r.attempts),
    next_attempt: Number(r.next_attempt),
    last_error: r.last_error,
    history: JSON.parse(r.history),
    create_time: Number(r.create_time),
    update_time: Number(r.update_time),
  };
}

export function noticeQueries({ db, sealer }: SqlContext): NoticeStore {
  const toTarget = (r: NoticeTargetTable): NoticeTargetRecord => ({
    id: r.id,
    project_id: r.project_id,
    pipeline_id: r.pipeline_id,
    kind: r.kind,
    enabled: Number(r.enabled) === 1,
    url: r.url === "" ? "" : sealer.open(r.url),
    secret: r.secret === "" ? "" : sealer.open(r.secret),
    events: JSON.parse(r.events),
    contents: JSON.parse(r.contents),
    users: JSON.parse(r.users),
    sort_index: Number(r.sort_index),
    create_time: Number(r.create_time),
    update_time: Number(r.update_time),
  });
  const toRow = (t: NoticeTargetRecord): NoticeTargetTable => ({
    ...t,
    enabled: t.enabled ? 1 : 0,
    url: t.url === "" ? "" : sealer.seal(t.url),
    secret: t.secret === "" ? "" : sealer.seal(t.secret),
    events: JSON.stringify(t.events),
    contents: JSON.stringify(t.contents),
    users: JSON.stringify(t.users),
  });

  return {
    async listNoticeTargets(pipelineId) {
      const rows = await db
        .selectFrom("notice_targets")
        .selectAll()
        .where("pipeline_id", "=", pipelineId)
        .orderBy("sort_index")
        .orderBy("create_time")
        .orderBy("id")
        .execute();
      return rows.map(toTarget);
    },
    async listNoticeTargetsOf(pipelineIds) {
      const out = new Map<string, NoticeTargetRecord[]>();
      for (let i = 0; i < pipelineIds.length; i += CHUNK) {
        const rows = await db
          .selectFrom("notice_targets")
          .selectAll()
          .where("pipeline_id", "in", pipelineIds.slice(i, i + CHUNK))
          .orderBy("sort_index")
          .orderBy("create_time")
          .orderBy("id")
          .execute();
        for (const r of rows) {
          const list = out.get(r.pipeline_id) ?? [];
          list.push(toTarget(r));
          out.set(r.pipeline_id, list);
        }
      }
      return out;
    },
    async putNoticeTarget(t) {
      const row = toRow(t);
      const { id: _id, project_id: _p, pipeline_id: _pl, create_time: _c, ...changes } = row;
      await db
        .insertInto("notice_targets")
        .values(row)
        .onConflict((oc) => oc.column("id").doUpdateSet(changes))
        .execute();
    },
    async deleteNoticeTarget(pipelineId, id) {
      await db
        .deleteFrom("notice_deliveries")
        .where("target_id", "=", id)
        .where("pipeline_id", "=", pipelineId)
        .execute();
      const res = await db
        .deleteFrom("notice_targets")
        .where("pipeline_id", "=", pipelineId)
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    async enqueueNoticeDeliveries(rows) {
      if (rows.length === 0) return;
      await db
        .insertInto("notice_deliveries")
        .values(
          rows.map((r) => ({
            ...r,
            history: JSON.stringify(r.history),
            lease_until: null,
            claim: null,
          })),
        )
        .execute();
    },
    async listNoticeDeliveries(pipelineId, page) {
      const rows = await db
        .selectFrom("notice_deliveries")
        .selectAll()
        .where("pipeline_id", "=", pipelineId)
        .orderBy("create_time", "desc")
        .orderBy("id", "desc")
        .limit(page.limit)
        .offset(page.offset)
        .execute();
      const count = await db
        .selectFrom("notice_deliveries")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("pipeline_id", "=", pipelineId)
        .executeTakeFirstOrThrow();
      return { total: Number(count.n), items: rows.map(toDelivery) };
    },
    async dueNoticeDeliveries(now, limit) {
      const rows = await db
        .selectFrom("notice_deliveries")
        .select("id")
        .where("status", "=", "PENDING")
        .where("next_attempt", "<=", now)
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)]))
        .orderBy("next_attempt")
        .orderBy("id")
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },
    async claimNoticeDelivery(id, now, leaseUntil, claim) {
      const res = await db
        .updateTable("notice_deliveries")
        .set({ lease_until: leaseUntil, claim })
        .where("id", "=", id)
        .where("status", "=", "PENDING")
        .where("next_attempt", "<=", now)
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return undefined;
      const row = await db
        .selectFrom("notice_deliveries")
        .selectAll()
        .where("id", "=", id)
        .where("claim", "=", claim)
        .executeTakeFirst();
      return row ? toDelivery(row) : undefined;
    },
    async finishNoticeAttempt(id, claim, patch) {
      const res = await db
        .updateTable("notice_deliveries")
        .set({ ...patch, history: JSON.stringify(patch.history), lease_until: null, claim: null })
        .where("id", "=", id)
        .where("claim", "=", claim)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
  };
}
