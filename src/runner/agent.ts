// The runner agent (`pipewright runner`): registers with a server, long-polls for jobs, runs them
// with the same local runner code as the embedded mode, streams their logs back, renews their
// leases, and reports results — retrying every report until a server answers, so jobs go on
// while the server restarts. SIGTERM drains (no new jobs; running ones finish).

import os from "node:os";
import { type Clock, systemClock } from "../clock.js";
import type { JobAssignment, JobOutcome, JobReporter, StepOutcomeStatus } from "./job.js";
import { createLocalRunner } from "./local-runner.js";
import type { HostEnv } from "./process.js";

export interface AgentOptions {
  /** One server URL, or several (any replica): on a network failure the agent moves to the next. */
  readonly server: string;
  readonly token: string;
  readonly slots: number;
  readonly labels: readonly string[];
  readonly name: string;
  readonly workRoot: string;
  readonly hostEnv: HostEnv;
  /** Clones of local paths and file:// URLs on this machine (`--allow-local-clone`). */
  readonly allowLocalClone?: boolean;
  readonly version: string;
  /** Diagnostics; the agent never throws out of its loop. */
  readonly log: (msg: string) => void;
  /** Longest wait between retries of an unreachable server. */
  readonly maxBackoffMs?: number;
  readonly clock?: Clock;
}

export interface Agent {
  /** Runs until drained or stopped. */
  run(): Promise<void>;
  /** Takes no new jobs; resolves when the running ones have finished and been reported. */
  drain(): Promise<void>;
  /** Stops at once: running jobs are killed and not reported (their leases expire on the server). */
  stop(): void;
  readonly running: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

const LOG_FLUSH_MS = 100;
const LOG_FLUSH_BYTES = 256 * 1024;

export function createAgent(opts: AgentOptions): Agent {
  const servers = opts.server
    .split(",")
    .map((s) => s.trim().replace(/\/+$/, ""))
    .filter(Boolean);
  let current = 0;
  const base = (): string => servers[current % servers.length]!;
  const clock = opts.clock ?? systemClock;
  const runner = createLocalRunner({
    workRoot: opts.workRoot,
    hostEnv: opts.hostEnv,
    killGraceMs: 1000,
    allowLocalClone: opts.allowLocalClone ?? false,
    clock,
  });
  const maxBackoff = opts.maxBackoffMs ?? 5000;
  const stopping = new AbortController();
  const draining = new AbortController();
  let runnerId: string | undefined;
  let heartbeatMs = 1000;
  const jobs = new Map<string, Promise<void>>();
  let wake: (() => void) | undefined;

  async function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(base() + path, {
        method: "POST",
        headers: { "content-type": "application/json", "x-auth-token": opts.token },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      // Unreachable: the next try goes to the next replica.
      if (!signal?.aborted) current++;
      throw err;
    }
    const text = await res.text();
    if (!res.ok) throw new HttpError(res.status, text);
    return JSON.parse(text) as T;
  }

  const sleep = (ms: number): Promise<void> => clock.sleep(ms, stopping.signal);

  /**
   * Sends a report until some server answers it. 4xx answers other than "unknown runner" are
   * final (retrying would not help); network errors and 5xx are retried with backoff.
   */
  async function deliver<T>(what: string, path: string, body: unknown): Promise<T | undefined> {
    let backoff = 100;
    for (;;) {
      if (stopping.signal.aborted) return undefined;
      try {
        return await post<T>(path, body);
      } catch (err) {
        if (err instanceof HttpError && err.status >= 400 && err.status < 500) {
          opts.log(`${what}: the server refused it (${err.message}); giving up on it`);
          return undefined;
        }
        opts.log(`${what}: ${(err as Error).message}; retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  async function register(): Promise<void> {
    let backoff = 200;
    while (!stopping.signal.aborted) {
      try {
        const r = await post<{ runner_id: string; heartbeat_ms: number }>("/runner/v1/register", {
          ...(runnerId ? { runner_id: runnerId } : {}),
          name: opts.name,
          labels: opts.labels,
          slots: opts.slots,
          version: opts.version,
        });
        runnerId = r.runner_id;
        heartbeatMs = r.heartbeat_ms;
        opts.log(
          `registered with ${base()} as ${opts.name} (${runnerId}), ${opts.slots} slots, labels [${opts.labels.join(", ")}]`,
        );
        return;
      } catch (err) {
        if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
          throw new Error(`the server refused the runner token: ${err.message}`);
        }
        opts.log(`cannot register with ${base()}: ${(err as Error).message}; retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  function execute(job: JobAssignment): Promise<void> {
    const controller = new AbortController();
    const onStop = (): void => controller.abort();
    stopping.signal.addEventListener("abort", onStop, { once: true });
    const ref = `/runner/v1/jobs/${job.jobRunId}`;
    const attempt = job.attempt;
    // Every report says which runner sends it: only this runner's attempt holds the job.
    const me = { runner_id: runnerId, attempt };
    /** Fenced out: the server gave the job to someone else or it was stopped. */
    const lost = (r: { held: boolean } | undefined): void => {
      if (r && !r.held) controller.abort();
    };

    const heartbeat = clock.setInterval(() => {
      post<{ held: boolean }>(`${ref}/heartbeat`, me).then(lost, () => {
        // The server may be restarting: the job goes on, the next beat tries again.
      });
    }, heartbeatMs);

    // Log chunks per step go out in order, batched; offsets make resends harmless.
    const buffers = new Map<
      string,
      { offset: number; parts: string[]; bytes: number; sending: Promise<void> }
    >();
    const flush = (stepId: string): Promise<void> => {
      const b = buffers.get(stepId);
      if (!b) return Promise.resolve();
      if (b.parts.length > 0) {
        const text = b.parts.join("");
        const offset = b.offset;
        b.offset += Buffer.byteLength(text);
        b.parts = [];
        b.bytes = 0;
        b.sending = b.sending.then(async () => {
          lost(
            await deliver<{ held: boolean }>("log", `${ref}/steps/${stepId}/log`, { ...me, offset, text }),
          );
        });
      }
      return b.sending;
    };
    const flusher = clock.setInterval(() => {
      for (const id of buffers.keys()) void flush(id);
    }, LOG_FLUSH_MS);

    const reporter: JobReporter = {
      async stepStarted(stepId) {
        buffers.set(stepId, { offset: 0, parts: [], bytes: 0, sending: Promise.resolve() });
        lost(await deliver<{ held: boolean }>("step start", `${ref}/steps/${stepId}/start`, me));
      },
      stepProcess() {
        // Process groups matter to the embedded server's restart clean-up only; an agent's
        // processes die with its jobs (runProcess kills their groups).
      },
      stepOutput(stepId, text) {
        const b = buffers.get(stepId);
        if (!b) return;
        b.parts.push(text);
        b.bytes += text.length;
        if (b.bytes >= LOG_FLUSH_BYTES) void flush(stepId);
      },
      async stepFinished(stepId, status: StepOutcomeStatus, message) {
        await flush(stepId);
        buffers.delete(stepId);
        if (stopping.signal.aborted) return;
        lost(
          await deliver<{ held: boolean }>("step result", `${ref}/steps/${stepId}/finish`, {
            ...me,
            status,
            message,
          }),
        );
      },
    };

    return runner
      .runJob(job, reporter, controller.signal)
      .catch(
        (err: unknown): JobOutcome => ({
          status: "FAILED",
          nextStep: job.startStep,
          message: `runner error: ${(err as Error).message}`,
        }),
      )
      .then(async (outcome) => {
        flusher.cancel();
        await Promise.all([...buffers.keys()].map(flush));
        if (stopping.signal.aborted) return;
        // The final status is retried until a server acknowledges it.
        await deliver("job result", `${ref}/finish`, {
          ...me,
          status: outcome.status,
          next_step: outcome.nextStep,
          message: outcome.message,
        });
      })
      .finally(() => {
        heartbeat.cancel();
        flusher.cancel();
        stopping.signal.removeEventListener("abort", onStop);
      });
  }

  async function loop(): Promise<void> {
    await register();
    let backoff = 200;
    while (!stopping.signal.aborted && !draining.signal.aborted) {
      const free = opts.slots - jobs.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      let claimed: JobAssignment[];
      try {
        const r = await post<{ jobs: JobAssignment[] }>(
          "/runner/v1/claim",
          { runner_id: runnerId, limit: free, labels: opts.labels, wait_ms: 20_000 },
          AbortSignal.any([draining.signal, stopping.signal]),
        );
        claimed = r.jobs;
        backoff = 200;
      } catch (err) {
        if (draining.signal.aborted || stopping.signal.aborted) break;
        if (err instanceof HttpError && err.status === 400 && err.message.includes("not registered")) {
          await register();
          continue;
        }
        opts.log(`claiming jobs from ${base()} failed: ${(err as Error).message}; retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
        continue;
      }
      for (const job of claimed) {
        const p = execute(job).finally(() => {
          jobs.delete(job.jobRunId);
          wake?.();
        });
        jobs.set(job.jobRunId, p);
      }
    }
    await Promise.all(jobs.values());
  }

  let loopDone: Promise<void> | undefined;
  return {
    run() {
      loopDone ??= loop();
      return loopDone;
    },
    async drain() {
      draining.abort();
      wake?.();
      await (loopDone ?? Promise.resolve());
    },
    stop() {
      stopping.abort();
      draining.abort();
      wake?.();
    },
    get running() {
      return jobs.size;
    },
  };
}

export function defaultRunnerName(): string {
  return `${os.hostname()}-${process.pid}`;
}
