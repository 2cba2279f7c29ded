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
  /** Chunks taken from parts that are not stored yet, in offset order (a write failed: retried). */
  unwritten: { offset: number; text: string }[];
  writing: Promise<void>;
  /** The step ended; the entry stays only until its unwritten chunks are stored. */
  closed: boolean;
}

/** Unwritten chunks are merged up to this size, so a long outage does not mean many rows later. */
const MERGE_BYTES = 1024 * 1024;

const fresh = (offset: number): Pending => ({
  next: offset,
  flushedTo: offset,
  parts: [],
  unwritten: [],
  writing: Promise.resolve(),
  closed: false,
});

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

  /**
   * Moves what was appended to the unwritten chunks and writes them, in offset order (the writes
   * of a step are chained). A chunk whose write fails stays, and the next flush (every flushMs)
   * tries again, so a full disk or a database outage delays a log instead of cutting a hole in it.
   */
  function flush(stepId: string): Promise<void> {
    const p = pending.get(stepId);
    if (!p) return Promise.resolve();
    if (p.parts.length > 0) {
      const text = p.parts.join("");
      const last = p.unwritten.at(-1);
      if (
        last &&
        last.offset + Buffer.byteLength(last.text) === p.flushedTo &&
        last.text.length < MERGE_BYTES
      ) {
        last.text += text;
      } else {
        p.unwritten.push({ offset: p.flushedTo, text });
      }
      p.parts = [];
      p.flushedTo = p.next;
    }
    if (p.unwritten.length === 0) return p.writing;
    p.writing = p.writing.then(async () => {
      while (p.unwritten.length > 0) {
        const chunk = p.unwritten[0]!;
        try {
          await store.appendLog(stepId, chunk.offset, chunk.text);
        } catch (err) {
          logger.error({ err, stepId }, "writing a log chunk failed; it is kept and tried again");
          return;
        }
        if (p.unwritten[0] === chunk) p.unwritten.shift();
      }
      if (p.closed && pending.get(stepId) === p) pending.delete(stepId);
    });
    return p.writing;
  }

  return {
    open(stepId, offset) {
      const p = pending.get(stepId);
      if (!p) pending.set(stepId, fresh(offset));
      else p.closed = false;
    },
    append(stepId, text) {
      let p = pending.get(stepId);
      if (!p) {
        p = fresh(0);
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
      const p = pending.get(stepId);
      // What could not be stored yet stays for the timer to retry.
      if (p && p.unwritten.length > 0) p.closed = true;
      else pending.delete(stepId);
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
      const p = pending.get(stepId);
      return p !== undefined && !p.closed;
    },
    async stop() {
      timer.cancel();
      await Promise.all([...pending.keys()].map((id) => flush(id)));
    },
  };
}
