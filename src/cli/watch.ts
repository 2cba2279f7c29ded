// Polls runs until every one has ended. One `pipelines/status` call per round covers every run
// that is still its pipeline's latest; only runs overtaken by a newer run of the same pipeline
// need a detail call of their own.

import { systemClock } from "../clock.js";
import type { ProjectApi, RunDetail, RunSummary } from "./api.js";
import { isDone, type RunRow } from "./progress.js";

export interface WatchedRun {
  readonly pipelineId: string;
  readonly name: string;
  readonly runId: string;
}

export function rowFromSummary(name: string, s: RunSummary, message?: string | null): RunRow {
  return {
    name,
    runId: s.pipeline_run_id,
    runNumber: s.run_number,
    status: s.status,
    stages: [...s.stage_status_list]
      .sort((a, b) => a.sequence - b.sequence)
      .map((st) => ({ name: st.name, status: st.status })),
    startTime: s.start_time,
    endTime: s.end_time,
    message,
  };
}

export function rowFromDetail(name: string, d: RunDetail): RunRow {
  return {
    name,
    runId: d.id,
    runNumber: d.run_number,
    status: d.status,
    stages: d.stages.map((st) => ({ name: st.name, status: st.status })),
    startTime: d.start_time,
    endTime: d.end_time,
    message: d.message || whyFailed(d),
  };
}

/** The first failed job and its message, e.g. `test: exit code 3`, for runs that carry none. */
export function whyFailed(d: RunDetail): string | null {
  for (const st of d.stages) {
    for (const job of st.jobs) {
      if (job.status === "FAILED") {
        const step = job.steps.find((s) => s.status === "FAILED");
        return `${job.name}: ${step?.message ?? job.message ?? "failed"}`;
      }
    }
  }
  return null;
}

/** The row of a run not seen yet: QUEUED, with `message` when it will not start. */
export function queuedRow(r: Pick<WatchedRun, "name" | "runId">, message?: string | null): RunRow {
  const row: RunRow = {
    name: r.name,
    runId: r.runId,
    runNumber: null,
    status: "QUEUED",
    stages: [],
    startTime: 0,
    endTime: 0,
  };
  return message === undefined ? row : { ...row, message };
}

/** A run that never started stays marked so as its row is refreshed. */
function kept(prev: RunRow | undefined, next: RunRow): RunRow {
  return prev?.notStarted ? { ...next, notStarted: true } : next;
}

/**
 * Calls `onUpdate` with every run's current row after each round, until all have ended or the
 * signal aborts; answers the last rows. `initial` rows (e.g. runs that failed to start) are kept
 * as they are once they have ended.
 */
export async function watchRuns(
  api: ProjectApi,
  runs: readonly WatchedRun[],
  opts: {
    readonly intervalMs: number;
    readonly signal: AbortSignal;
    readonly onUpdate: (rows: readonly RunRow[]) => void;
    readonly initial?: ReadonlyMap<string, RunRow>;
  },
): Promise<RunRow[]> {
  const rows = new Map<string, RunRow>(opts.initial ?? []);
  for (const r of runs) {
    if (!rows.has(r.runId)) rows.set(r.runId, queuedRow(r));
  }
  const current = (): RunRow[] => runs.map((r) => rows.get(r.runId)!);
  for (;;) {
    const open = runs.filter((r) => !isDone(rows.get(r.runId)!));
    if (open.length > 0) {
      const latest = new Map(
        (await api.latestStatus(open.map((r) => r.pipelineId))).map((s) => [s.pipeline_id, s]),
      );
      const overtaken: WatchedRun[] = [];
      for (const r of open) {
        const s = latest.get(r.pipelineId);
        if (s && s.pipeline_run_id === r.runId)
          rows.set(r.runId, kept(rows.get(r.runId), rowFromSummary(r.name, s, rows.get(r.runId)?.message)));
        else overtaken.push(r);
      }
      for (const r of overtaken)
        rows.set(
          r.runId,
          kept(rows.get(r.runId), rowFromDetail(r.name, await api.runDetail(r.pipelineId, r.runId))),
        );
      // A run that just ended has its message (why it failed) only in the detail.
      for (const r of open) {
        const row = rows.get(r.runId)!;
        if (isDone(row) && row.status !== "COMPLETED" && !row.message && !overtaken.includes(r)) {
          rows.set(r.runId, kept(row, rowFromDetail(r.name, await api.runDetail(r.pipelineId, r.runId))));
        }
      }
    }
    const now = current();
    opts.onUpdate(now);
    if (now.every(isDone) || opts.signal.aborted) return now;
    await systemClock.sleep(opts.intervalMs, opts.signal);
    if (opts.signal.aborted) return current();
  }
}
