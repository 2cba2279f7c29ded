// Webhook secrets (sealed at rest) and the record of code-event deliveries.

import { sql } from "kysely";
import type { DeliveryTable } from "../schema.js";
import { type DeliveryRecord, DuplicateKey, type WebhookStore } from "../store.js";
import type { SqlContext } from "./context.js";
import { isUniqueViolation } from "./rows.js";

function toDelivery(r: DeliveryTable): DeliveryRecord {
  return {
    ...r,
    status: r.status as DeliveryRecord["status"],
    started: JSON.parse(r.started),
    skipped: JSON.parse(r.skipped),
    create_time: Number(r.create_time),
  };
}

export function webhookQueries({ db, sealer }: SqlContext): WebhookStore {
  return {
    async webhookSecret(projectId, fresh, now) {
      const row = await db
        .selectFrom("webhook_secrets")
        .select("secret")
        .where("project_id", "=", projectId)
        .executeTakeFirst();
      if (row) return sealer.open(row.secret);
      await db
        .insertInto("webhook_secrets")
        .values({ project_id: projectId, secret: sealer.seal(fresh()), create_time: now })
        .onConflict((oc) => oc.column("project_id").doNothing())
        .execute();
      // Another replica may have made one in the same moment: the stored one is the one.
      const made = await db
        .selectFrom("webhook_secrets")
        .select("secret")
        .where("project_id", "=", projectId)
        .executeTakeFirstOrThrow();
      return sealer.open(made.secret);
    },

    async findAcceptedDelivery(projectId, forge, deliveryId) {
      const row = await db
        .selectFrom("deliveries")
        .selectAll()
        .where("project_id", "=", projectId)
        .where("forge", "=", forge)
        .where("delivery_id", "=", deliveryId)
        .where("status", "=", "accepted")
        .executeTakeFirst();
      return row && toDelivery(row);
    },

    async insertDelivery(d, keep) {
      try {
        await db
          .insertInto("deliveries")
          .values({ ...d, started: JSON.stringify(d.started), skipped: JSON.stringify(d.skipped) })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new DuplicateKey("accepted delivery");
        throw err;
      }
      if (keep === undefined) return;
      // The oldest one kept; everything of the status older than it goes.
      const edge = await db
        .selectFrom("deliveries")
        .select(["create_time", "id"])
        .where("project_id", "=", d.project_id)
        .where("status", "=", d.status)
        .orderBy("create_time", "desc")
        .orderBy("id", "desc")
        .limit(1)
        .offset(keep - 1)
        .executeTakeFirst();
      if (!edge) return;
      await db
        .deleteFrom("deliveries")
        .where("project_id", "=", d.project_id)
        .where("status", "=", d.status)
        .where((eb) =>
          eb.or([
            eb("create_time", "<", edge.create_time),
            eb.and([eb("create_time", "=", edge.create_time), eb("id", "<", edge.id)]),
          ]),
        )
        .execute();
    },

    async listDeliveries(q) {
      let base = db.selectFrom("deliveries").where("project_id", "=", q.projectId);
      if (q.statuses && q.statuses.length > 0) base = base.where("status", "in", q.statuses);
      if (q.pipelineId) {
        // The JSON lists hold {"pipeline_id":"<id>",…}: ids are hex, so a LIKE on the text finds them.
        const like = `%"pipeline_id":"${q.pipelineId.replace(/[^0-9a-f]/gi, "")}"%`;
        base = base.where(sql<boolean>`(started LIKE ${like} OR skipped LIKE ${like})`);
      }
      const [count, rows] = await Promise.all([
        base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
        base
          .selectAll()
          .orderBy("create_time", "desc")
          .orderBy("id", "desc")
          .limit(q.limit)
          .offset(q.offset)
          .execute(),
      ]);
      return { total: Number(count.n), items: rows.map(toDelivery) };
    },
  };
}
