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
import { SUBPIPELINE_TASK, TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { ClaimedJob, JobFence, RunChanges, RunGraph } from "../store/run-records.js";
import type { PipelineRecord, Store } from "../store/store.js";
import { applyChanges, isEmptyChanges, mergeChanges } from "./graph.js";
import type { RunNotices } from "./notices.js";
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
  /** A run ended: a run waiting under its pipeline's concurrency limit may now go in. */
  admission(): void;
  /** A run may have started waiting for admission (created or retried over its limit). */
  waiting(): void;
  /** Jobs may be ready for runners. */
  dispatch(): void;
  /** A manual review got a deadline: the review timer may need to fire sooner. */
  reviews(): void;
  /** A sub-pipeline step started, or a child run ended: its parent step has something to do. */
  subpipelines(): void;
}

export interface RunWriter {
  /**
   * Reads a run, lets `change` decide what to write (null: nothing), adds what the scheduling
   * rules derive from that, and writes it all in one transaction. Answers the graph as written,
   * or undefined when `change` wrote nothing. `change` may throw to refuse (nothing of it is
   * written). Changes to one run that arrive while its transaction is under way are applied
   * together in the next one (a group commit): one read and one plan for a burst of reports; and
   * changes to several runs made in one go (a batch of reports on many jobs) share a transaction.
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
  /** Writes the notices of a status change in the transaction that makes it. */
  readonly notices?: RunNotices;
}

/** Runs whose waiting changes are written in one transaction at most. */
const RUNS_PER_TRANSACTION = 64;

/** A change waiting for its run's next transaction. */
interface PendingChange {
  readonly change: (g: RunGraph) => RunChanges | null;
  readonly fresh: boolean;
  readonly resolve: (g: RunGraph | undefined) => void;
  readonly reject: (err: unknown) => void;
}

const isSubpipelineStep = (g: RunGraph, stepId: string): boolean =>
  g.steps.some((s) => s.id === stepId && s.task === SUBPIPELINE_TASK);

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
    if (ended && after.run.parent_run_id !== null) wake.subpipelines();
    if (changes.steps?.some((s) => s.status === "RUNNING" && isSubpipelineStep(after, s.id)))
      wake.subpipelines();
    events.changed(after.run.id);
  }

  let flushQueued = false;
  /** Transactions of this writer under way (at most one: see flush). */
  let inFlight = 0;
  const queueFlush = (): void => {
    if (flushQueued) return;
    flushQueued = true;
    // A microtask: the changes a caller makes in one go (a batch of runner reports, one change
    // per job) share one transaction.
    queueMicrotask(() => {
      flushQueued = false;
      void flush();
    });
  };

  /**
   * Commits the waiting changes of runs, up to RUNS_PER_TRANSACTION runs in one transaction; the
   * rest go in the next. One transaction at a time (a group commit): what arrives while one is
   * under way waits for it and goes in the next one together, so that under load a transaction
   * carries the reports of many requests (on PostgreSQL each costs its statements' round trips;
   * on SQLite transactions run one at a time anyway).
   */
  async function flush(): Promise<void> {
    if (inFlight > 0) return;
    const picked: [string, PendingChange[]][] = [];
    for (const [runId, batch] of waiting) {
      if (busy.has(runId)) continue;
      picked.push([runId, batch]);
      if (picked.length === RUNS_PER_TRANSACTION) break;
    }
    if (picked.length === 0) return;
    for (const [runId] of picked) {
      waiting.delete(runId);
      busy.add(runId);
    }
    inFlight++;
    if (picked.length === RUNS_PER_TRANSACTION) queueFlush();
    try {
      if (picked.length === 1) await commit(picked[0]!);
      else await commitMany(picked);
    } finally {
      inFlight--;
      for (const [runId] of picked) busy.delete(runId);
      if (waiting.size > 0) queueFlush();
    }
  }

  /** One run's waiting changes as decided inside a transaction. */
  interface Decided {
    readonly runId: string;
    readonly batch: readonly PendingChange[];
    readonly outcomes: ({ ok: true; wrote: boolean } | { ok: false; err: unknown })[];
    read?: RunGraph | undefined;
    /** What to write, once decided: the changes, and the graph before the rules' part of them. */
    write?: { readonly mid: RunGraph; readonly planned: RunChanges; readonly all: RunChanges } | undefined;
    result?: { before: RunGraph; after: RunGraph; changes: RunChanges } | undefined;
  }

  /** The write of a decided run went in as version `next` (undefined: the run is gone). */
  function wrote(d: Decided, next: number | undefined): void {
    if (!d.write || !d.read || next === undefined) return;
    const { mid, planned, all } = d.write;
    d.result = { before: d.read, after: withVersion(applyChanges(mid, planned), next), changes: all };
  }

  /** Reads the run (version already locked), applies its changes in order, plans: what to write. */
  async function decide(
    tx: Store,
    runId: string,
    batch: readonly PendingChange[],
    version: number | undefined,
  ): Promise<Decided> {
    // Each change sees the ones before it; one that throws is refused alone.
    const d: Decided = { runId, batch, outcomes: [] };
    if (version === undefined) return d;
    const fresh = batch.some((p) => p.fresh);
    const g = (!fresh && cache.get(runId, version)) || (await tx.getRunGraph(runId));
    if (!g) return d;
    d.read = g;
    let mid = g;
    let first: RunChanges = {};
    for (const p of batch) {
      try {
        const c = p.change(mid);
        d.outcomes.push({ ok: true, wrote: c !== null });
        if (c === null) continue;
        mid = applyChanges(mid, c);
        first = mergeChanges(first, c);
      } catch (err) {
        d.outcomes.push({ ok: false, err });
      }
    }
    if (!d.outcomes.some((o) => o.ok && o.wrote)) return d;
    const planned = plan(mid, clock.now());
    const all = mergeChanges(first, planned);
    if (isEmptyChanges(all)) return d;
    d.write = { mid, planned, all };
    return d;
  }

  /** In the transaction of the write: the notices its status change causes (notices.ts). */
  async function notify(tx: Store, d: Decided): Promise<void> {
    const r = d.result;
    if (!deps.notices || !r || r.before.run.status === r.after.run.status) return;
    await deps.notices.changed(tx, r.before.run, r.after.run, clock.now());
  }

  /** The same for a batch of runs written in one transaction: one read of their targets. */
  async function notifyMany(tx: Store, ds: readonly Decided[]): Promise<void> {
    if (!deps.notices) return;
    const changes = ds.flatMap((d) =>
      d.result && d.result.before.run.status !== d.result.after.run.status
        ? [{ before: d.result.before.run, after: d.result.after.run }]
        : [],
    );
    if (changes.length > 0) await deps.notices.changedMany(tx, changes, clock.now());
  }

  /** After the commit: what is remembered, who is told, and each caller's answer. */
  function settle(d: Decided): void {
    if (d.result) {
      cache.remember(d.result.after);
      written(d.result.before, d.result.after, d.result.changes);
    } else if (d.read) {
      cache.remember(d.read);
    } else {
      cache.forget(d.runId);
    }
    d.batch.forEach((p, i) => {
      const o = d.outcomes[i];
      if (o && !o.ok) p.reject(o.err);
      else p.resolve(o?.wrote && d.result ? d.result.after : undefined);
    });
  }

  async function commit([runId, batch]: [string, readonly PendingChange[]]): Promise<void> {
    let d: Decided | undefined;
    try {
      d = await store.transaction(async (tx) => {
        const decided = await decide(tx, runId, batch, await tx.lockRun(runId));
        if (decided.write) wrote(decided, await tx.applyRunChanges(runId, decided.write.all));
        await notify(tx, decided);
        return decided;
      });
    } catch (err) {
      // Rolled back: what is remembered may be ahead of what is stored.
      cache.forget(runId);
      for (const p of batch) p.reject(err);
      return;
    }
    settle(d);
  }

  /** Several runs' changes in one transaction (locks in id order); on an error, each on its own. */
  async function commitMany(picked: readonly [string, readonly PendingChange[]][]): Promise<void> {
    let decided: Decided[];
    try {
      decided = await store.transaction(async (tx) => {
        const out: Decided[] = [];
        const versions = await tx.lockRuns(picked.map(([id]) => id));
        for (const [runId, batch] of [...picked].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          out.push(await decide(tx, runId, batch, versions.get(runId)));
        }
        const writes = out.flatMap((d) => (d.write ? [{ runId: d.runId, changes: d.write.all }] : []));
        const next = writes.length > 0 ? await tx.applyManyRunChanges(writes) : new Map<string, number>();
        for (const d of out) wrote(d, next.get(d.runId));
        await notifyMany(tx, out);
        return out;
      });
    } catch {
      // One run's write failed the whole transaction (or the database did): one by one, so that
      // the others still commit and the failing one gets its own error.
      for (const [runId] of picked) cache.forget(runId);
      await Promise.all(picked.map((entry) => commit(entry)));
      return;
    }
    for (const d of decided) settle(d);
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
        if (!busy.has(runId)) queueFlush();
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
