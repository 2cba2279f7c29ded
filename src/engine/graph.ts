// Pure helpers over a run's records: applying a change set in memory and merging change sets, so
// the scheduler can plan on the state it is about to write and write it once.

import type { JobRunRecord, RunChanges, RunGraph, StepRunRecord } from "../store/run-records.js";

export interface RunIndex {
  /** The jobs of a stage, in definition order. */
  jobsOfStage(stageIdx: number): readonly JobRunRecord[];
  /** The steps of a job, in definition order. */
  stepsOfJob(jobId: string): readonly StepRunRecord[];
  jobByIdentifier(identifier: string): JobRunRecord | undefined;
}

/**
 * Where a run's records are in its graph's arrays. The positions never change for a run's
 * lineage of graphs (applyChanges keeps every record in its place), so one layout serves every
 * version of a run derived from the same read, however many changes later.
 */
interface Layout {
  readonly jobsOfStage: ReadonlyMap<number, readonly number[]>;
  readonly stepsOfJob: ReadonlyMap<string, readonly number[]>;
  readonly jobByIdentifier: ReadonlyMap<string, number>;
  /** Position of each record by id, per array. */
  readonly stageAt: ReadonlyMap<string, number>;
  readonly jobAt: ReadonlyMap<string, number>;
  readonly stepAt: ReadonlyMap<string, number>;
}

const layouts = new WeakMap<RunGraph, Layout>();
const indexes = new WeakMap<RunGraph, RunIndex>();

function layoutOf(g: RunGraph): Layout {
  let layout = layouts.get(g);
  if (layout) return layout;
  const byStage = new Map<number, number[]>();
  g.jobs.forEach((j, i) => {
    const list = byStage.get(j.stage_idx);
    if (list) list.push(i);
    else byStage.set(j.stage_idx, [i]);
  });
  const byJob = new Map<string, number[]>();
  g.steps.forEach((s, i) => {
    const list = byJob.get(s.job_id);
    if (list) list.push(i);
    else byJob.set(s.job_id, [i]);
  });
  for (const list of byStage.values()) list.sort((a, b) => g.jobs[a]!.idx - g.jobs[b]!.idx);
  for (const list of byJob.values()) list.sort((a, b) => g.steps[a]!.idx - g.steps[b]!.idx);
  const positions = (items: readonly { id: string }[]) => new Map(items.map((x, i) => [x.id, i]));
  layout = {
    jobsOfStage: byStage,
    stepsOfJob: byJob,
    jobByIdentifier: new Map(g.jobs.map((j, i) => [j.identifier, i])),
    stageAt: positions(g.stages),
    jobAt: positions(g.jobs),
    stepAt: positions(g.steps),
  };
  layouts.set(g, layout);
  return layout;
}

/** Groups a run's records (remembered for the graph), so readers never scan them per node. */
export function indexRun(g: RunGraph): RunIndex {
  let index = indexes.get(g);
  if (index) return index;
  const layout = layoutOf(g);
  const jobs = new Map<number, JobRunRecord[]>();
  const steps = new Map<string, StepRunRecord[]>();
  index = {
    jobsOfStage(idx) {
      let list = jobs.get(idx);
      if (!list) {
        list = (layout.jobsOfStage.get(idx) ?? []).map((i) => g.jobs[i]!);
        jobs.set(idx, list);
      }
      return list;
    },
    stepsOfJob(id) {
      let list = steps.get(id);
      if (!list) {
        list = (layout.stepsOfJob.get(id) ?? []).map((i) => g.steps[i]!);
        steps.set(id, list);
      }
      return list;
    },
    jobByIdentifier(identifier) {
      const i = layout.jobByIdentifier.get(identifier);
      return i === undefined ? undefined : g.jobs[i];
    },
  };
  indexes.set(g, index);
  return index;
}

type WithId = { readonly id: string };

function patchAll<T extends WithId>(
  items: readonly T[],
  patches: readonly (WithId & Partial<T>)[] | undefined,
  positions?: ReadonlyMap<string, number>,
): T[] {
  // Graphs are never changed in place: an array without patches is shared as it is.
  if (!patches || patches.length === 0) return items as T[];
  if (positions) {
    // A copy of the references, and new records only where a patch lands.
    const out = items.slice();
    for (const p of patches) {
      const i = positions.get(p.id);
      if (i !== undefined) out[i] = { ...out[i]!, ...p };
    }
    return out;
  }
  const byId = new Map<string, WithId & Partial<T>>();
  for (const p of patches) byId.set(p.id, { ...byId.get(p.id), ...p });
  return items.map((it) => {
    const p = byId.get(it.id);
    return p ? { ...it, ...p } : it;
  });
}

export function applyChanges(g: RunGraph, c: RunChanges): RunGraph {
  const layout = layouts.get(g);
  const next = {
    run: c.run ? { ...g.run, ...c.run } : g.run,
    stages: patchAll(g.stages, c.stages, layout?.stageAt),
    jobs: patchAll(g.jobs, c.jobs, layout?.jobAt),
    steps: patchAll(g.steps, c.steps, layout?.stepAt),
  };
  // Records keep their places: the layout found for g holds for the new graph too.
  if (layout) layouts.set(next, layout);
  return next;
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
    keepAttempts: [...(a.keepAttempts ?? []), ...(b.keepAttempts ?? [])],
  };
}

export function isEmptyChanges(c: RunChanges): boolean {
  return (
    (!c.run || Object.keys(c.run).length <= 1) &&
    !c.stages?.length &&
    !c.jobs?.length &&
    !c.steps?.length &&
    !c.clearLogsOf?.length &&
    !c.keepAttempts?.length
  );
}
