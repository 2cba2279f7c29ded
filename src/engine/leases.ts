// Leases: a runner holds a job only while it renews the job's lease. A lease that runs out means
// the runner is gone (crashed, cut off): the job is dispatched again once (REDISPATCH) from the
// step it was on, and fails if that happens a second time. The decision is a pure change builder.

import { TERMINAL_NODE_STATUSES } from "../pipeline/vocabulary.js";
import type { JobRunRecord, RunChanges, RunGraph } from "../store/run-records.js";
import type { JobQueueStore } from "../store/store.js";
import type { RunWriter, Wakeups } from "./run-writer.js";

/** What becomes of a job whose lease expired; null when that attempt no longer holds it. */
export function leaseExpiryChanges(
  g: RunGraph,
  expired: Pick<JobRunRecord, "id" | "attempt">,
  now: number,
  nextSeq: () => number,
): RunChanges | null {
  const j = g.jobs.find((x) => x.id === expired.id);
  if (!j || j.status !== "RUNNING" || j.attempt !== expired.attempt) return null;
  const open = g.steps.filter(
    (s) => s.job_id === j.id && s.idx >= j.next_step && !TERMINAL_NODE_STATUSES.has(s.status),
  );
  // A runner that never confirmed the job (no heartbeat) most likely never got it: the answer to
  // its claim was lost. That does not count as losing the job.
  const confirmed = j.heartbeat_time !== null;
  if (j.lost === 0 || !confirmed) {
    const message = confirmed
      ? `runner ${j.runner_id} was lost (no heartbeat); dispatched again`
      : `runner ${j.runner_id} never confirmed the job; dispatched again`;
    return {
      jobs: [
        {
          id: j.id,
          status: "REDISPATCH",
          lost: confirmed ? j.lost + 1 : j.lost,
          runner_id: null,
          lease_expires: null,
          pgid: null,
          message,
          ready_seq: nextSeq(),
        },
      ],
      steps: open.map((s) => ({
        id: s.id,
        status: "INIT" as const,
        start_time: 0,
        end_time: 0,
        message: null,
      })),
      clearLogsOf: open.map((s) => s.id),
    };
  }
  const message = `runner ${j.runner_id} was lost (no heartbeat) a second time; the job failed`;
  return {
    jobs: [{ id: j.id, status: "FAILED", lost: j.lost + 1, message, end_time: now, lease_expires: null }],
    steps: open.map((s) => ({ id: s.id, status: "FAILED" as const, message, end_time: now })),
  };
}

/** Applies lease expiry to every job whose lease ran out (any replica may; the fence keeps it once). */
export async function expireLeases(deps: {
  readonly store: JobQueueStore;
  readonly writer: RunWriter;
  readonly wake: Wakeups;
  readonly now: () => number;
}): Promise<void> {
  const { store, writer, wake, now } = deps;
  const expired = await store.listExpiredLeases(now());
  for (const job of expired) {
    // Heartbeats renew leases without a version bump: decide on the stored records.
    await writer.mutate(job.run_id, (g) => leaseExpiryChanges(g, job, now(), writer.nextSeq), {
      fresh: true,
    });
  }
  if (expired.length > 0) wake.dispatch();
}
