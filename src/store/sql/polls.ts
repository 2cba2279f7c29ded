// Pipelines' polled repositories: the rows the poller works from, kept in step with each
// pipeline's triggers, taken by compare-and-set on their due time so that one replica polls.

import type { Kysely } from "kysely";
import { pollIntervalOf } from "../../pipeline/polling.js";
import type { Database, TriggerPollTable } from "../schema.js";
import type { PipelineSpec, PollRecord, PollStore } from "../store.js";
import type { SqlContext } from "./context.js";

function toPoll(r: TriggerPollTable): PollRecord {
  return {
    ...r,
    interval_ms: Number(r.interval_ms),
    next_due: Number(r.next_due),
    refs: r.refs === null ? null : (JSON.parse(r.refs) as Record<string, string>),
    last_poll: r.last_poll === null ? null : Number(r.last_poll),
  };
}

/**
 * Writes a pipeline's poll rows after its spec was written at `now`: one per repository its
 * triggers poll, at the shortest interval asked for. A repository polled before keeps what was
 * seen there (so a changed filter does not start runs for old commits); a new one is due now.
 */
export async function syncPolls(
  db: Kysely<Database>,
  pipeline: { readonly id: string; readonly project_id: string; readonly spec: PipelineSpec },
  now: number,
): Promise<void> {
  const wanted = new Map<string, number>();
  for (const [i, t] of pipeline.spec.triggers.entries()) {
    const ms = pollIntervalOf(t, `triggers[${i}]`);
    if (ms === undefined) continue;
    const url = (t as { git_url: string }).git_url;
    wanted.set(url, Math.min(ms, wanted.get(url) ?? ms));
  }
  const existing = await db
    .selectFrom("trigger_polls")
    .selectAll()
    .where("pipeline_id", "=", pipeline.id)
    .execute();
  const byUrl = new Map(existing.map((r) => [r.git_url, r]));
  for (const [git_url, interval_ms] of wanted) {
    const old = byUrl.get(git_url);
    if (!old) {
      await db
        .insertInto("trigger_polls")
        .values({
          pipeline_id: pipeline.id,
          git_url,
          project_id: pipeline.project_id,
          interval_ms,
          next_due: now,
          refs: null,
          last_poll: null,
          last_error: null,
        })
        .execute();
    } else if (Number(old.interval_ms) !== interval_ms) {
      await db
        .updateTable("trigger_polls")
        .set({ interval_ms, next_due: Math.min(Number(old.next_due), now + interval_ms) })
        .where("pipeline_id", "=", pipeline.id)
        .where("git_url", "=", git_url)
        .execute();
    }
  }
  const gone = existing.filter((r) => !wanted.has(r.git_url)).map((r) => r.git_url);
  if (gone.length > 0) {
    await db
      .deleteFrom("trigger_polls")
      .where("pipeline_id", "=", pipeline.id)
      .where("git_url", "in", gone)
      .execute();
  }
}

export function pollQueries({ db }: SqlContext): PollStore {
  return {
    async listPollsOf(pipelineId) {
      const rows = await db
        .selectFrom("trigger_polls")
        .selectAll()
        .where("pipeline_id", "=", pipelineId)
        .orderBy("git_url")
        .execute();
      return rows.map(toPoll);
    },

    async listDuePolls(now, limit) {
      const rows = await db
        .selectFrom("trigger_polls")
        .selectAll()
        .where("next_due", "<=", now)
        .orderBy("next_due")
        .limit(limit)
        .execute();
      return rows.map(toPoll);
    },

    async claimPoll(pipelineId, gitUrl, due, next) {
      const res = await db
        .updateTable("trigger_polls")
        .set({ next_due: next })
        .where("pipeline_id", "=", pipelineId)
        .where("git_url", "=", gitUrl)
        .where("next_due", "=", due)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    async finishPoll(pipelineId, gitUrl, at, seen) {
      await db
        .updateTable("trigger_polls")
        .set(
          "refs" in seen
            ? { refs: JSON.stringify(seen.refs), last_poll: at, last_error: null }
            : { last_poll: at, last_error: seen.error.slice(0, 1000) },
        )
        .where("pipeline_id", "=", pipelineId)
        .where("git_url", "=", gitUrl)
        .where((eb) => eb.or([eb("last_poll", "is", null), eb("last_poll", "<=", at)]))
        .execute();
    },
  };
}
