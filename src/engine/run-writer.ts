// The one way the engine changes a run: read its records under a lock, let a decision function
// say what changes, add what the scheduling rules derive from that (plan.ts), write it all in one
// transaction, then tell whoever waits (live streams, the pump). Every use case goes through here.

import { EventEmitter } from "node:events";
import type { Clock } from "../clock.js";
import type { ConditionAst } from "../pipeline/condition.js";
import { parseDefinition } from "../pipeline/definition.js";
import type { Definition } from "../pipeline/types.js";
import { TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { RunChanges, RunGraph } from "../store/run-records.js";
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
   * or undefined when nothing was written. `change` may throw to refuse (nothing is written).
   */
  mutate(runId: string, change: (g: RunGraph) => RunChanges | null): Promise<RunGraph | undefined>;
  /** The scheduling rules applied to a graph about to be written (run creation plans before inserting). */
  plan(g: RunGraph, now: number): RunChanges;
  /** Strictly increasing, roughly wall-clock: orders ready jobs and waiting runs FIFO. */
  nextSeq(): number;
  /** The parsed definition of a pipeline, cached by its text. */
  definitionOf(p: PipelineRecord): Definition;
  /** Tells the listeners and the pump about a write made elsewhere (a runner's report). */
  written(before: RunGraph | undefined, after: RunGraph, changes: RunChanges): void;
}

export interface RunWriterDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly events: RunEvents;
  readonly wake: Wakeups;
}

export function createRunWriter(deps: RunWriterDeps): RunWriter {
  const { store, clock, events, wake } = deps;
  const conditions = new Map<string, ConditionAst>();
  const definitions = new Map<string, Definition>();
  let lastSeq = 0;

  const nextSeq = (): number => {
    lastSeq = Math.max(lastSeq + 1, clock.now() * 1000);
    return lastSeq;
  };

  const plan = (g: RunGraph, now: number): RunChanges => planRun(g, { now, nextSeq, conditions });

  function written(before: RunGraph | undefined, after: RunGraph, changes: RunChanges): void {
    const ended =
      !TERMINAL_RUN_STATUSES.has(before?.run.status ?? "") && TERMINAL_RUN_STATUSES.has(after.run.status);
    if (ended) wake.admission();
    if (changes.jobs?.some((j) => j.status === "QUEUED")) wake.dispatch();
    if (changes.steps?.some((s) => s.deadline !== undefined && s.deadline !== null)) wake.reviews();
    events.changed(after.run.id);
  }

  return {
    plan,
    nextSeq,
    written,
    definitionOf(p) {
      let def = definitions.get(p.definition);
      if (!def) {
        def = parseDefinition(p.definition);
        if (definitions.size >= 2000) definitions.clear();
        definitions.set(p.definition, def);
      }
      return def;
    },
    async mutate(runId, change) {
      const result = await store.transaction(async (tx) => {
        const g = await tx.getRunGraphForUpdate(runId);
        if (!g) return undefined;
        const first = change(g);
        if (first === null) return undefined;
        const mid = applyChanges(g, first);
        const planned = plan(mid, clock.now());
        const all = mergeChanges(first, planned);
        if (isEmptyChanges(all)) return undefined;
        await tx.applyRunChanges(all);
        return { before: g, after: applyChanges(mid, planned), changes: all };
      });
      if (!result) return undefined;
      written(result.before, result.after, result.changes);
      return result.after;
    },
  };
}
