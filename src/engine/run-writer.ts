// The one way the engine changes a run: read its records under a lock, let a decision function
// say what changes, add what the scheduling rules derive from that (plan.ts), write it all in one
// transaction, then tell whoever waits (live streams, the pump). Every use case goes through here,
// and so do runners' reports and claims: this process's copy of a run's records (a cache checked
// against the run's stored version) then stays current without reading a large run again.

import { EventEmitter } from "node:events";
import { type Clock, yieldToEventLoop } from "../clock.js";
import type { ConditionAst } from "../pipeline/condition.js";
import { parseDefinitionAsync } from "../pipeline/definition.js";
import type { Definition } from "../pipeline/types.js";
import { TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { ClaimedJob, JobFence, RunChanges, RunGraph } from "../store/run-records.js";
import type { PipelineRecord, Store } from "../store/store.js";
import { applyChanges, isEmptyChanges, mergeChanges } from "./graph.js";
import { planRun } from "./plan.js";

/** Tells listeners which run changed (live run streams), in this process. */
export interface RunEvents {
  /** Calls `onChange` with the id of every run changed from now on; answers the unsubscribe. */
  subscribe(onChange: (runId: string) => void): () => void;
  changed(runId: string): void;
}

export function createRunEvents(): RunEvents {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    subscribe(onChange) {
      emitter.on("run", onChange);
      return () => emitter.off("run", onChange);
    },
    changed: (runId) => emitter.emit("run", runId),
  };
}

/** What the scheduling loop should look at again (pump.ts implements it). */
export interface Wakeups {
  /** The run needs planning (a change made outside the writer, e.g. a claim). */
  run(runId: string): void;
  /** A run ended or started waiting: admission under concurrency limits may change. */
  admission(): void;
  /** Jobs may be ready for runners. */
  dispatch(): void;
  /** A manual review got a deadline: the review timer may need to fire sooner. */
  reviews(): void;
}

export interface RunWriter {
  /**
   * Reads a run, lets `change` decide what to write (null: nothing), adds what the scheduling
   * rules derive from that, and writes it all in one transaction. Answers the graph as written,
   * or undefined when `change` wrote nothing. `change` may throw to refuse (nothing of it is
   * written). Changes to one run that arrive while its transaction is under way are applied
   * together in the next one (a group commit): one read and one plan for a burst of reports.
   * With `fresh`, the run's records are read from the store whatever this process remembers
   * (for decisions on fields that change without a version bump: leases).
   */
  mutate(
    runId: string,
    change: (g: RunGraph) => RunChanges | null,
    opts?: { fresh?: boolean },
  ): Promise<RunGraph | undefined>;
  /**
   * Writes a runner's report on its job as it is (no planning): fenced by the job's attempt;
   * answers false, writing nothing, when that attempt no longer holds the job.
   */
  report(runId: string, changes: RunChanges, fence: JobFence): Promise<boolean>;
  /** Jobs a claim just handed out: what this process remembers of their runs follows. */
  claimed(jobs: readonly ClaimedJob[]): void;
  /** Runs just created (committed): remembered as written. */
  created(graphs: readonly RunGraph[]): void;
  /** Drops what is remembered of a run (it was changed past the writer). */
  forget(runId: string): void;
  /**
   * The run's records as remembered, if they are of `version` (the run's stored version as a
   * caller just learnt it, e.g. from a claim); undefined otherwise.
   */
  remembered(runId: string, version: number): RunGraph | undefined;
  /** The scheduling rules applied to a graph about to be written (run creation plans before inserting). */
  plan(g: RunGraph, now: number): RunChanges;
  /** Strictly increasing, roughly wall-clock: orders ready jobs and waiting runs FIFO. */
  nextSeq(): number;
  /** The parsed definition of a pipeline (parsing remembers recent texts). */
  definitionOf(p: PipelineRecord): Promise<Definition>;
}

export interface RunWriterDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly events: RunEvents;
  readonly wake: Wakeups;
  /** Records (stages + jobs + steps) of unfinished runs remembered at most; default 200,000. */
  readonly cacheNodes?: number;
}

/** A change waiting for its run's next transaction. */
interface PendingChange {
  readonly change: (g: RunGraph) => RunChanges | null;
  readonly fresh: boolean;
  readonly resolve: (g: RunGraph | undefined) => void;
  readonly reject: (err: unknown) => void;
}

const withVersion = (g: RunGraph, version: number): RunGraph =>
  applyChanges(g, { run: { id: g.run.id, version } });
const nodesOf = (g: RunGraph): number => g.stages.length + g.jobs.length + g.steps.length;

/**
 * What this process remembers of unfinished runs: their records as last read or written here,
 * least recently used first out. An entry is used only while its version is the stored one.
 */
function createGraphCache(maxNodes: number) {
  const graphs = new Map<string, RunGraph>();
  let nodes = 0;
  const forget = (runId: string): void => {
    const g = graphs.get(runId);
    if (!g) return;
    nodes -= nodesOf(g);
    graphs.delete(runId);
  };
  return {
    forget,
    /** The remembered graph if it is at `version` (marked as used), else undefined. */
    get(runId: string, version: number): RunGraph | undefined {
      const g = graphs.get(runId);
      if (!g || g.run.version !== version) return undefined;
      graphs.delete(runId);
      graphs.set(runId, g);
      return g;
    },
    /** The remembered graph whatever its version. */
    peek: (runId: string): RunGraph | undefined => graphs.get(runId),
    remember(g: RunGraph): void {
      forget(g.run.id);
      // A finished run is not planned again (until a retry, which reads it once).
      if (TERMINAL_RUN_STATUSES.has(g.run.status)) return;
      graphs.set(g.run.id, g);
      nodes += nodesOf(g);
      for (const [id] of graphs) {
        if (nodes <= maxNodes) break;
        forget(id);
      }
    },
  };
}

export function createRunWriter(deps: RunWriterDeps): RunWriter {
  const { store, clock, events, wake } = deps;
  const conditions = new Map<string, ConditionAst>();
  const cache = createGraphCache(deps.cacheNodes ?? 200_000);
  /** Per run: the changes waiting for the next transaction, while one is under way. */
  const waiting = new Map<string, PendingChange[]>();
  const busy = new Set<string>();
  let lastSeq = 0;

  const nextSeq = (): number => {
    lastSeq = Math.max(lastSeq + 1, clock.now() * 1000);
    return lastSeq;
  };

  const plan = (g: RunGraph, now: number): RunChanges => planRun(g, { now, nextSeq, conditions });

  /** Tells the listeners and the pump what a write changed. */
  function written(before: RunGraph | undefined, after: RunGraph, changes: RunChanges): void {
    const ended =
      !TERMINAL_RUN_STATUSES.has(before?.run.status ?? "") && TERMINAL_RUN_STATUSES.has(after.run.status);
    if (ended) wake.admission();
    if (changes.jobs?.some((j) => j.status === "QUEUED")) wake.dispatch();
    if (changes.steps?.some((s) => s.deadline !== undefined && s.deadline !== null)) wake.reviews();
    events.changed(after.run.id);
  }

  /** Runs the run's waiting changes, a batch per transaction, until none is left. */
  async function drain(runId: string): Promise<void> {
    busy.add(runId);
    try {
      for (let batch = waiting.get(runId); batch; batch = waiting.get(runId)) {
        waiting.delete(runId);
        await commit(runId, batch);
      }
    } finally {
      busy.delete(runId);
    }
  }

  async function commit(runId: string, batch: readonly PendingChange[]): Promise<void> {
    // Each change sees the ones before it; one that throws is refused alone.
    const outcomes: ({ ok: true; wrote: boolean } | { ok: false; err: unknown })[] = [];
    const fresh = batch.some((p) => p.fresh);
    let read: RunGraph | undefined;
    let result: { before: RunGraph; after: RunGraph; changes: RunChanges } | undefined;
    try {
      result = await store.transaction(async (tx) => {
        outcomes.length = 0;
        read = undefined;
        const version = await tx.lockRun(runId);
        if (version === undefined) return undefined;
        const g = (!fresh && cache.get(runId, version)) || (await tx.getRunGraph(runId));
        if (!g) return undefined;
        read = g;
        let mid = g;
        let first: RunChanges = {};
        for (const p of batch) {
          try {
            const c = p.change(mid);
            outcomes.push({ ok: true, wrote: c !== null });
            if (c === null) continue;
            mid = applyChanges(mid, c);
            first = mergeChanges(first, c);
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
        if (!outcomes.some((o) => o.ok && o.wrote)) return undefined;
        const planned = plan(mid, clock.now());
        const all = mergeChanges(first, planned);
        if (isEmptyChanges(all)) return undefined;
        const next = await tx.applyRunChanges(runId, all);
        if (next === undefined) return undefined;
        return { before: g, after: withVersion(applyChanges(mid, planned), next), changes: all };
      });
    } catch (err) {
      // Rolled back: what is remembered may be ahead of what is stored.
      cache.forget(runId);
      for (const p of batch) p.reject(err);
      return;
    }
    if (result) {
      cache.remember(result.after);
      written(result.before, result.after, result.changes);
    } else if (read) {
      cache.remember(read);
    } else {
      cache.forget(runId);
    }
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o && !o.ok) p.reject(o.err);
      else p.resolve(o?.wrote && result ? result.after : undefined);
    });
  }

  return {
    plan,
    nextSeq,
    definitionOf: (p) => parseDefinitionAsync(p.definition, yieldToEventLoop),
    mutate(runId, change, opts) {
      return new Promise((resolve, reject) => {
        const p = { change, fresh: opts?.fresh === true, resolve, reject };
        const list = waiting.get(runId);
        if (list) list.push(p);
        else waiting.set(runId, [p]);
        if (!busy.has(runId)) void drain(runId);
      });
    },
    async report(runId, changes, fence) {
      const next = await store.applyRunChanges(runId, changes, fence);
      if (next === undefined) return false;
      // The report is the only change since what is remembered: follow it, else read again later.
      const known = cache.peek(runId);
      if (known && known.run.version === next - 1)
        cache.remember(withVersion(applyChanges(known, changes), next));
      else cache.forget(runId);
      events.changed(runId);
      return true;
    },
    forget: (runId) => cache.forget(runId),
    remembered: (runId, version) => cache.get(runId, version),
    created(graphs) {
      for (const g of graphs) cache.remember(g);
    },
    claimed(jobs) {
      const byRun = new Map<string, ClaimedJob[]>();
      for (const j of jobs) {
        const list = byRun.get(j.run_id);
        if (list) list.push(j);
        else byRun.set(j.run_id, [j]);
      }
      for (const [runId, claimed] of byRun) {
        const known = cache.peek(runId);
        const version = claimed[0]!.run_version;
        if (!known || known.run.version !== version - 1) {
          cache.forget(runId);
          continue;
        }
        const jobs = claimed.map(({ run_version: _v, ...record }) => record);
        cache.remember(applyChanges(known, { run: { id: runId, version }, jobs }));
      }
    },
  };
}
