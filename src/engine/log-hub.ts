// Step logs on their way from a runner to the store and to live readers: text is published to
// subscribers at once and written to the store in batches (every flushMs, at a step's end, or
// when a reader asks), so a chatty step costs few writes and a live reader sees lines at once.

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { LogStore } from "../store/store.js";

export interface LogEvent {
  readonly stepId: string;
  /** Byte offset of `text` in the step's log. */
  readonly offset: number;
  readonly text: string;
}

interface Pending {
  /** Offset of the next byte to append. */
  next: number;
  /** Offset where the unflushed text starts. */
  flushedTo: number;
  parts: string[];
  writing: Promise<void>;
}

export interface LogHub {
  /** Starts a step's log at `offset` (0 for a fresh step). */
  open(stepId: string, offset: number): void;
  append(stepId: string, text: string): void;
  /** Writes what is pending of the step and waits for it. */
  flush(stepId: string): Promise<void>;
  /** Flushes and forgets the step; subscribers get `end`. */
  close(stepId: string): Promise<void>;
  subscribe(stepId: string, onEvent: (e: LogEvent) => void, onEnd: () => void): () => void;
  /** Tells local subscribers of text that is already stored (a remote runner's chunk). */
  publish(stepId: string, offset: number, text: string): void;
  /** Tells local subscribers that a step stored elsewhere has ended. */
  ended(stepId: string): void;
  isOpen(stepId: string): boolean;
  stop(): Promise<void>;
}

export function createLogHub(deps: {
  store: LogStore;
  logger: Logger;
  clock: Clock;
  flushMs?: number;
}): LogHub {
  const { store, logger } = deps;
  const flushMs = deps.flushMs ?? 100;
  const pending = new Map<string, Pending>();
  const subscribers = new Map<string, Set<{ onEvent: (e: LogEvent) => void; onEnd: () => void }>>();
  const timer = deps.clock.setInterval(() => {
    for (const id of pending.keys()) void flush(id);
  }, flushMs);

  function flush(stepId: string): Promise<void> {
    const p = pending.get(stepId);
    if (!p) return Promise.resolve();
    if (p.parts.length > 0) {
      const text = p.parts.join("");
      const offset = p.flushedTo;
      p.parts = [];
      p.flushedTo = p.next;
      // Chained, so chunks reach the store in offset order.
      p.writing = p.writing.then(async () => {
        try {
          await store.appendLog(stepId, offset, text);
        } catch (err) {
          logger.error({ err, stepId }, "writing a log chunk failed");
        }
      });
    }
    return p.writing;
  }

  return {
    open(stepId, offset) {
      if (!pending.has(stepId))
        pending.set(stepId, { next: offset, flushedTo: offset, parts: [], writing: Promise.resolve() });
    },
    append(stepId, text) {
      let p = pending.get(stepId);
      if (!p) {
        p = { next: 0, flushedTo: 0, parts: [], writing: Promise.resolve() };
        pending.set(stepId, p);
      }
      const offset = p.next;
      p.parts.push(text);
      p.next += Buffer.byteLength(text);
      const subs = subscribers.get(stepId);
      if (subs) for (const s of subs) s.onEvent({ stepId, offset, text });
    },
    flush,
    async close(stepId) {
      await flush(stepId);
      pending.delete(stepId);
      const subs = subscribers.get(stepId);
      if (subs) for (const s of subs) s.onEnd();
      subscribers.delete(stepId);
    },
    subscribe(stepId, onEvent, onEnd) {
      let subs = subscribers.get(stepId);
      if (!subs) {
        subs = new Set();
        subscribers.set(stepId, subs);
      }
      const entry = { onEvent, onEnd };
      subs.add(entry);
      return () => {
        subs.delete(entry);
        if (subs.size === 0 && subscribers.get(stepId) === subs) subscribers.delete(stepId);
      };
    },
    publish(stepId, offset, text) {
      const subs = subscribers.get(stepId);
      if (subs) for (const s of subs) s.onEvent({ stepId, offset, text });
    },
    ended(stepId) {
      const subs = subscribers.get(stepId);
      if (subs) for (const s of subs) s.onEnd();
      subscribers.delete(stepId);
    },
    isOpen(stepId) {
      return pending.has(stepId);
    },
    async stop() {
      timer.cancel();
      await Promise.all([...pending.keys()].map((id) => flush(id)));
    },
  };
}
