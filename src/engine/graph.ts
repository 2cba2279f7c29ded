// Pure helpers over a run's records: applying a change set in memory and merging change sets, so
// the scheduler can plan on the state it is about to write and write it once.

import type { RunChanges, RunGraph } from "../store/run-records.js";

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
