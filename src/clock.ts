// Time as a dependency: the current time, abortable sleeps and timers. Everything that waits
// (the scheduler's sweeps and review deadlines, leases, long polls, live streams, job timeouts)
// gets a Clock, so a test can move time forward instead of waiting for it.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs `fn` once after `ms`. Timers never keep the process alive. */
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

/** setTimeout takes at most a signed 32-bit delay; a longer one would fire at once. */
const MAX_DELAY = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, Math.min(Math.max(0, ms), MAX_DELAY));
      signal?.addEventListener("abort", done, { once: true });
    });
  },
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.min(Math.max(0, ms), MAX_DELAY));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, Math.min(Math.max(1, ms), MAX_DELAY));
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

/** A clock that moves only when told to (tests). */
export interface TestClock extends Clock {
  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in time order, and
   * letting the work each one starts run before the next fires.
   */
  advance(ms: number): Promise<void>;
  /**
   * Jumps `ms` ahead as a machine that slept would: each timer due on the way fires once, and a
   * periodic one goes on from the new time (days pass without a second-timer firing 86,400 times).
   */
  jump(ms: number): Promise<void>;
  /** Timers not yet fired. */
  pending(): number;
}

interface Scheduled {
  readonly id: number;
  due: number;
  readonly every: number | null;
  readonly fn: () => void;
}

/** Lets promise chains and setImmediate callbacks started by a timer run to their next real wait. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

export function createTestClock(start = Date.UTC(2026, 0, 1)): TestClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, Scheduled>();

  const schedule = (fn: () => void, ms: number, every: number | null): Timer => {
    const id = nextId++;
    timers.set(id, { id, due: now + Math.max(0, ms), every, fn });
    return { cancel: () => timers.delete(id) };
  };

  const clock: TestClock = {
    now: () => now,
    sleep(ms, signal) {
      if (signal?.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const done = (): void => {
          timer.cancel();
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = schedule(done, ms, null);
        signal?.addEventListener("abort", done, { once: true });
      });
    },
    setTimeout: (fn, ms) => schedule(fn, ms, null),
    setInterval: (fn, ms) => schedule(fn, ms, Math.max(1, ms)),
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        let first: Scheduled | undefined;
        for (const t of timers.values()) if (t.due <= target && (!first || t.due < first.due)) first = t;
        if (!first) break;
        now = Math.max(now, first.due);
        if (first.every === null) timers.delete(first.id);
        else first.due += first.every;
        first.fn();
        await settle();
      }
      now = target;
      await settle();
    },
    async jump(ms) {
      now += ms;
      const due = [...timers.values()].filter((t) => t.due <= now).sort((a, b) => a.due - b.due);
      for (const t of due) {
        if (!timers.has(t.id)) continue;
        if (t.every === null) timers.delete(t.id);
        else t.due = now + t.every;
        t.fn();
        await settle();
      }
      await settle();
    },
    pending: () => timers.size,
  };
  return clock;
}

/**
 * Lets the event loop run what waits (other requests, timers) in the middle of long synchronous
 * work, such as parsing or planning a run near the size limits.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
