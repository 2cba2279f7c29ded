// The scheduling loop: one pass at a time plans the runs marked dirty, admits waiting runs under
// their concurrency limits, hands ready jobs out and re-arms the review timer, and repeats while
// anything was marked meanwhile. Marks are cheap and coalesce; passes run on the event loop's
// next turn so a burst of changes costs one pass.

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Wakeups } from "./run-writer.js";

export interface PumpTasks {
  /** Plans one run as far as it goes without executing anything. */
  advance(runId: string): Promise<void>;
  /**
   * Admits waiting runs that their pipeline's concurrency limit now lets in; answers whether
   * runs may still be waiting (false: it found none).
   */
  admit(): Promise<boolean>;
  /** Hands ready jobs to runners (wakes long polls, fills local slots). */
  dispatch(): Promise<void>;
  /** Arms the timer of the next manual-review deadline. */
  scheduleReviews(): Promise<void>;
  /** Starts the child runs sub-pipeline steps wait for, and ends the steps whose child ended. */
  subpipelines(): Promise<void>;
}

export interface Pump extends Wakeups {
  /** Starts passes (with everything marked: a fresh start looks at all). */
  start(): void;
  /** No pass starts after this; the one under way finishes. */
  stop(): void;
  /** Marks everything, as the periodic sweep does for work queued on other replicas. */
  all(): void;
}

/** After a failed pass, try again this much later rather than spin on a persistent error. */
const RETRY_MS = 1000;

export function createPump(tasks: PumpTasks, deps: { clock: Clock; logger: Logger }): Pump {
  const { clock, logger } = deps;
  const dirtyRuns = new Set<string>();
  let admission = false;
  /**
   * Whether runs may be waiting for admission, as far as this process knows. A run's end looks
   * for waiting runs only while this holds: without concurrency limits nothing ever waits, and
   * the look was a query per finished run. Runs that began waiting on another replica are found
   * by the sweep, which marks everything every second.
   */
  let mayWait = true;
  let dispatch = false;
  let reviews = false;
  let subpipelines = false;
  let started = false;
  let stopped = false;
  let scheduled = false;
  let pumping = false;

  const pending = (): boolean => dirtyRuns.size > 0 || admission || dispatch || reviews || subpipelines;

  function kick(): void {
    if (stopped || !started || scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void pass();
    });
  }

  async function pass(): Promise<void> {
    if (pumping) return; // the pass under way looks again before it ends
    pumping = true;
    try {
      while (!stopped && pending()) {
        const runs = [...dirtyRuns];
        dirtyRuns.clear();
        for (const id of runs) await tasks.advance(id);
        if (admission) {
          admission = false;
          if (mayWait) {
            mayWait = false;
            // Set again meanwhile (a run began waiting during the look) it stays set.
            if (await tasks.admit()) mayWait = true;
          }
        }
        if (dispatch) {
          dispatch = false;
          await tasks.dispatch();
        }
        if (reviews) {
          reviews = false;
          await tasks.scheduleReviews();
        }
        if (subpipelines) {
          subpipelines = false;
          await tasks.subpipelines();
        }
      }
    } catch (err) {
      logger.error({ err }, "scheduler pass failed");
      clock.setTimeout(() => {
        admission = true;
        dispatch = true;
        kick();
      }, RETRY_MS);
    } finally {
      pumping = false;
    }
    if (pending()) kick();
  }

  const mark = (set: () => void) => (): void => {
    set();
    kick();
  };

  return {
    run(runId) {
      dirtyRuns.add(runId);
      kick();
    },
    admission: mark(() => (admission = true)),
    waiting: mark(() => {
      mayWait = true;
      admission = true;
    }),
    dispatch: mark(() => (dispatch = true)),
    reviews: mark(() => (reviews = true)),
    subpipelines: mark(() => (subpipelines = true)),
    all: mark(() => {
      mayWait = true;
      admission = true;
      dispatch = true;
      reviews = true;
      subpipelines = true;
    }),
    start() {
      if (started) return;
      started = true;
      mayWait = true;
      admission = true;
      dispatch = true;
      reviews = true;
      subpipelines = true;
      kick();
    },
    stop() {
      stopped = true;
    },
  };
}
