// Concurrency control (spec §5.4): a run over its pipeline's limit waits (QUEUE) until an active
// run of the pipeline ends; waiting runs are admitted oldest first, across all pipelines.

import { TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { PipelineStore, RunStore } from "../store/store.js";
import type { RunWriter } from "./run-writer.js";

/** How many waiting runs one admission pass looks at. */
const ADMISSION_BATCH = 1000;

/** Answers whether there were waiting runs (some may wait still). */
export async function admitWaitingRuns(deps: {
  readonly store: RunStore & PipelineStore;
  readonly writer: RunWriter;
  readonly now: () => number;
}): Promise<boolean> {
  const { store, writer, now } = deps;
  const waiting = await store.listWaitingRuns(ADMISSION_BATCH);
  if (waiting.length === 0) return false;
  const pipelines = new Map(
    (await store.getPipelines([...new Set(waiting.map((r) => r.pipeline_id))])).map((p) => [p.id, p]),
  );
  const counts = await store.countActiveRuns([...pipelines.keys()]);
  for (const run of waiting) {
    const p = pipelines.get(run.pipeline_id);
    const cc = p?.spec.concurrency_control;
    const c = counts.get(run.pipeline_id) ?? { admitted: 0, waiting: 0 };
    if (p && cc?.enable && c.admitted >= cc.concurrency_number) continue;
    c.admitted++;
    counts.set(run.pipeline_id, c);
    await writer.mutate(run.id, (g) =>
      g.run.admitted || TERMINAL_RUN_STATUSES.has(g.run.status)
        ? null
        : // A retried run keeps the start of its first attempt, so its duration covers all of them.
          { run: { id: g.run.id, admitted: true, start_time: g.run.start_time || now() } },
    );
  }
  return true;
}
