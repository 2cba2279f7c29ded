// Pure helpers over a run's records: applying a change set in memory and merging change sets, so
// the scheduler can plan on the state it is about to write and write it once.

import type { JobRunRecord, RunChanges, RunGraph, StepRunRecord } from "../store/run-records.js";

export interface RunIndex {
  /** The jobs of a stage, in definition order. */
  jobsOfStage(stageIdx: number): readonly JobRunRecord[];
  /** The steps of a job, in definition order. */
  stepsOfJob(jobId: string): readonly StepRunRecord[];
}

const indexes = new WeakMap<RunGraph, RunIndex>();

/** Groups a run's records once (remembered for the graph), so readers never scan them per node. */
export function indexRun(g: RunGraph): RunIndex {
  let index = indexes.get(g);
  if (index) return index;
  const byStage = new Map<number, JobRunRecord[]>();
  for (const j of g.jobs) {
    const list = byStage.get(j.stage_idx);
    if (list) list.push(j);
    else byStage.set(j.stage_idx, [j]);
  }
  const byJob = new Map<string, StepRunRecord[]>();
  for (const s of g.steps) {
    const list = byJob.get(s.job_id);
    if (list) list.push(s);
    else byJob.set(s.job_id, [s]);
  }
  for (const list of byStage.values()) list.sort((a, b) => a.idx - b.idx);
  for (const list of byJob.values()) list.sort((a, b) => a.idx - b.idx);
  index = {
    jobsOfStage: (idx) => byStage.get(idx) ?? [],
    stepsOfJob: (id) => byJob.get(id) ?? [],
  };
  indexes.set(g, index);
  return index;
}

type WithId = { readonly id: string };

function patchAll<T extends WithId>(
  items: readonly T[],
  patches: readonly (WithId & Partial<T>)[] | undefined,
): T[] {
  if (!patches || patches.length === 0) return [...items];
  const byId = new Map<string, WithId & Partial<T>>();
  for (const p of patches) byId.set(p.id, { ...byId.get(p.id), ...p });
  return items.map((it) => {
    const p = byId.get(it.id);
    return p ? { ...it, ...p } : it;
  });
}

export function applyChanges(g: RunGraph, c: RunChanges): RunGraph {
  return {
    run: c.run ? { ...g.run, ...c.run } : g.run,
    stages: patchAll(g.stages, c.stages),
    jobs: patchAll(g.jobs, c.jobs),
    steps: patchAll(g.steps, c.steps),
  };
}

function mergeList<T extends WithId>(a: readonly T[] | undefined, b: readonly T[] | undefined): T[] {
  const out = new Map<string, T>();
  for (const x of [...(a ?? []), ...(b ?? [])]) out.set(x.id, { ...out.get(x.id), ...x } as T);
  return [...out.values()];
}

/** b's fields win over a's for the same record. */
export function mergeChanges(a: RunChanges, b: RunChanges): RunChanges {
  return {
    run: a.run || b.run ? ({ ...a.run, ...b.run } as RunChanges["run"]) : undefined,
    stages: mergeList(a.stages, b.stages),
    jobs: mergeList(a.jobs, b.jobs),
    steps: mergeList(a.steps, b.steps),
    clearLogsOf: [...(a.clearLogsOf ?? []), ...(b.clearLogsOf ?? [])],
  };
}

export function isEmptyChanges(c: RunChanges): boolean {
  return (
    (!c.run || Object.keys(c.run).length <= 1) &&
    !c.stages?.length &&
    !c.jobs?.length &&
    !c.steps?.length &&
    !c.clearLogsOf?.length
  );
}
