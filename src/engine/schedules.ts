// Firing pipelines' schedules: every sweep, each schedule whose tick is due starts its pipeline
// through the batch use case, with an idempotency key made of the schedule and the tick. The key
// is what makes a tick fire once: a replica racing another, or a server that crashed between
// starting the run and moving the schedule on, meets the first run's batch record and starts
// nothing. Ticks that passed while no server ran fire once at start when the latest is at most
// CATCH_UP_MS old; the others are counted as missed on the schedule.

import type { Logger } from "pino";
import { PipewrightError } from "../errors.js";
import { nextTick, parseSchedule, type Schedule } from "../pipeline/schedules.js";
import type { ScheduleRecord, Store } from "../store/store.js";
import type { StartRuns } from "./start-runs.js";

/** How late a tick may be fired (the server was down at its time); older ones are missed. */
export const CATCH_UP_MS = 10 * 60_000;
/** Schedules handled per sweep at most; the rest wait for the next one. */
const DUE_PER_SWEEP = 200;
/** Ticks looked at per schedule and sweep at most when catching up on a long downtime. */
const TICKS_PER_CATCH_UP = 10_000;

/** Who runs started by a schedule are started by. */
export const SCHEDULER_EXECUTOR = { id: "scheduler", name: "Scheduler" } as const;

export interface Scheduler {
  /** Fires the ticks due by now; answers how many runs it started. */
  fireDue(): Promise<number>;
}

export function createScheduler(deps: {
  readonly store: Store;
  readonly start: StartRuns;
  readonly now: () => number;
  readonly logger: Logger;
}): Scheduler {
  const { store, start, now, logger } = deps;

  /** Fires (or misses) the due ticks of one schedule and moves it on. */
  async function fireOne(row: ScheduleRecord, t: number): Promise<boolean> {
    const due = row.next_due!;
    let s: Schedule;
    try {
      s = parseSchedule(JSON.parse(row.body), "schedule");
    } catch (err) {
      // Stored before a rule existed: it stops rather than failing every sweep.
      logger.warn({ err, pipeline: row.pipeline_id, schedule: row.uuid }, "a schedule is invalid; it stops");
      await store.advanceSchedule(row.pipeline_id, row.uuid, due, { next_due: null });
      return false;
    }
    // The ticks from `due` up to now: the latest fires if it is recent enough, the others missed.
    let latest: number | undefined;
    let missed = 0;
    let lastMissed: number | undefined;
    for (let tick: number | undefined = due, i = 0; tick !== undefined && tick <= t; i++) {
      if (latest !== undefined) {
        missed++;
        lastMissed = latest;
      }
      latest = tick;
      tick = i < TICKS_PER_CATCH_UP ? nextTick(s, tick) : undefined;
    }
    let fire = latest;
    if (fire !== undefined && t - fire > CATCH_UP_MS) {
      missed++;
      lastMissed = fire;
      fire = undefined;
    }
    let started = false;
    if (fire !== undefined) {
      try {
        const res = await start.batchRun({
          projectId: row.project_id,
          pipelineIds: [row.pipeline_id],
          executor: SCHEDULER_EXECUTOR,
          idempotencyKey: `schedule:${row.uuid}:${fire}`,
          options: { trigger_type: "Scheduler" },
        });
        started = !res.replayed;
      } catch (err) {
        // The pipeline went away (or was disabled into a refusal): nothing more for this tick.
        if (!(err instanceof PipewrightError)) throw err;
      }
    }
    if (missed > 0) {
      logger.warn(
        { pipeline: row.pipeline_id, schedule: row.uuid, missed, last_missed: lastMissed },
        "schedule ticks passed while no server ran; they are recorded as missed",
      );
    }
    await store.advanceSchedule(row.pipeline_id, row.uuid, due, {
      next_due: nextTick(s, Math.max(t, latest ?? t)) ?? null,
      fired: fire,
      missed,
      last_missed: lastMissed,
    });
    return started;
  }

  return {
    async fireDue() {
      const t = now();
      let started = 0;
      for (const row of await store.listDueSchedules(t, DUE_PER_SWEEP)) {
        try {
          if (await fireOne(row, t)) started++;
        } catch (err) {
          logger.error({ err, pipeline: row.pipeline_id, schedule: row.uuid }, "firing a schedule failed");
        }
      }
      return started;
    },
  };
}
