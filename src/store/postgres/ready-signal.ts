// Wakeups between replicas on one PostgreSQL database: a replica that made jobs ready sends
// NOTIFY on READY_CHANNEL (through the store's pool, after the change committed), and every
// replica keeps one connection of its own (not the pool's: a pooled connection is handed to other
// queries and released) that LISTENs and wakes its dispatcher. The payload names the sender, which
// ignores its own messages (it woke itself already).
//
// The listening connection may drop (the database restarts, a backend is killed): the drop is
// reported, never thrown, and the connection opened again with a backoff; once it is back the
// subscribers are woken once, for what was told while nobody listened. The replicas' poll stays
// as the fallback for anything a wakeup missed.

import crypto from "node:crypto";
import pg from "pg";
import type { ReadySignal } from "../store.js";

export const READY_CHANNEL = "pipewright_ready";

export interface PostgresReadySignalOptions {
  readonly url: string;
  /** Sends NOTIFY READY_CHANNEL with the payload (a query through the store's pool). */
  readonly send: (channel: string, payload: string) => Promise<void>;
  /** Told of a drop of the listening connection, or of a failed attempt to open it. */
  readonly onConnectionError?: ((err: Error) => void) | undefined;
  /** Told when the connection listens (again). */
  readonly onListening?: ((again: boolean) => void) | undefined;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Sends at most one NOTIFY this often (what is asked meanwhile goes with the next). */
  readonly minIntervalMs?: number;
}

/**
 * A wave of jobs makes jobs ready thousands of times a second, and each NOTIFY is a round trip
 * and a commit. At most one every 50 ms tells the other replicas just as well (their fallback
 * poll is a second) and bounds what the signal costs however busy the replica is.
 */
const MIN_INTERVAL_MS = 50;

export interface PostgresReadySignal extends ReadySignal {
  /** Stops listening and sending. */
  close(): Promise<void>;
}

export function createPostgresReadySignal(opts: PostgresReadySignalOptions): PostgresReadySignal {
  const self = crypto.randomBytes(12).toString("hex");
  const minBackoff = opts.minBackoffMs ?? 100;
  const maxBackoff = opts.maxBackoffMs ?? 5000;
  const subscribers = new Set<() => void>();
  let closed = false;

  // --- Sending: what is asked within one interval is one NOTIFY; one on its way at most, and
  // asked again meanwhile, one more when the interval since the last one has passed.
  const minInterval = opts.minIntervalMs ?? MIN_INTERVAL_MS;
  let due = false;
  let sending = false;
  let lastSent = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  function schedule(): void {
    if (timer || sending || closed) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        flush();
      },
      Math.max(0, lastSent + minInterval - Date.now()),
    );
    timer.unref();
  }
  function flush(): void {
    if (!due || sending || closed) return;
    due = false;
    sending = true;
    lastSent = Date.now();
    opts
      .send(READY_CHANNEL, self)
      .catch(() => {
        // The database is away: the others' poll finds the work.
      })
      .finally(() => {
        sending = false;
        if (due) schedule();
      });
  }

  // --- Listening.
  let client: pg.Client | undefined;
  let listenedBefore = false;
  let backoff = minBackoff;
  let retry: NodeJS.Timeout | undefined;
  let wakeQueued = false;
  const wake = (): void => {
    if (wakeQueued) return;
    wakeQueued = true;
    setImmediate(() => {
      wakeQueued = false;
      if (closed) return;
      for (const s of subscribers) s();
    });
  };

  function open(): void {
    if (closed || client) return;
    const c = new pg.Client({ connectionString: opts.url, keepAlive: true });
    client = c;
    const lost = (err: Error): void => {
      // Once dropped (or closed), what the connection says next is no news.
      if (client !== c) return;
      opts.onConnectionError?.(err);
      drop(c);
    };
    // An 'error' with no listener would end the process.
    c.on("error", lost);
    c.on("end", () => lost(new Error("the listening connection ended")));
    c.on("notification", (n) => {
      if (n.channel === READY_CHANNEL && n.payload !== self) wake();
    });
    c.connect()
      .then(() => c.query(`LISTEN ${READY_CHANNEL}`))
      .then(() => {
        if (client !== c) return;
        backoff = minBackoff;
        opts.onListening?.(listenedBefore);
        // What was told before this connection listened (at start: nothing to miss) is lost.
        if (listenedBefore) wake();
        listenedBefore = true;
      })
      .catch((err: Error) => lost(err));
  }

  function drop(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    c.end().catch(() => {});
    if (closed || subscribers.size === 0) return;
    retry = setTimeout(() => {
      retry = undefined;
      open();
    }, backoff);
    retry.unref();
    backoff = Math.min(maxBackoff, backoff * 2);
  }

  return {
    notify() {
      if (closed || due) return;
      due = true;
      schedule();
    },
    subscribe(onReady) {
      subscribers.add(onReady);
      open();
      return () => {
        subscribers.delete(onReady);
      };
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      // end() of a connection still being opened may never settle: a close does not wait long.
      if (c) await Promise.race([c.end().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
