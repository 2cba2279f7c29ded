// The runner agent (`pipewright runner`, remote or the embedded server's own): registers with a
// server, takes the jobs it pushes over one persistent stream, runs them with the local runner,
// and sends every report (leases, step starts and ends, log chunks, job ends) in batches through
// one queue, retrying each batch until a server answers it. Jobs therefore go on while the
// server restarts, and their results reach the next server. SIGTERM drains (no new jobs; running
// ones finish and are reported).

import { setMaxListeners } from "node:events";
import fs from "node:fs";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import os from "node:os";
import type { Readable } from "node:stream";
import { type Clock, systemClock, type Timer } from "../clock.js";
import { LIMITS } from "../pipeline/limits.js";
import type { StepOutput } from "../pipeline/outputs.js";
import { RUNNER_OF_ANOTHER_CREDENTIAL_CODE } from "../pipeline/vocabulary.js";
import { createSseParser } from "../wire/sse.js";
import type { StepGroups } from "./groups.js";
import type { JobAssignment, JobOutcome, JobReporter, StepOutcomeStatus } from "./job.js";
import type { Lanes } from "./lanes.js";
import { createLocalRunner } from "./local-runner.js";
import type { HostEnv, Launcher } from "./process.js";
import type { Sandbox } from "./sandbox.js";

export interface AgentOptions {
  /**
   * One server URL, or several (any replica): the agent starts on one its name picks (so that
   * agents given the same list spread over the replicas) and on a network failure moves to the
   * next. A function is asked again at every reconnect (the embedded runner reads the file its
   * server writes at each start).
   */
  readonly server: string | (() => string);
  readonly token: string | (() => string);
  readonly slots: number;
  readonly labels: readonly string[];
  readonly name: string;
  readonly workRoot: string;
  readonly hostEnv: HostEnv;
  /** Where each step's process group is recorded before its command runs. */
  readonly groups?: StepGroups | undefined;
  readonly sandbox?: Sandbox | undefined;
  /** Starts step processes (the runner's forkserver); spawned from this process by default. */
  readonly launcher?: Launcher | undefined;
  /** Long-lived sandboxes per slot (lanes.ts); none: a sandbox per step. */
  readonly lanes?: Lanes | undefined;
  /** Every job runs without network. */
  readonly noNetwork?: boolean | undefined;
  /** Clones of local paths and file:// URLs on this machine (`--allow-local-clone`). */
  readonly allowLocalClone?: boolean;
  /** The docker or podman container-image steps run through (`--container-runtime`). */
  readonly containerRuntime?: string | undefined;
  readonly version: string;
  /** Diagnostics; the agent never throws out of its loop. */
  readonly log: (msg: string) => void;
  /** Longest wait between retries of an unreachable server. */
  readonly maxBackoffMs?: number;
  /** The runner id an earlier process on this work dir was given: registered with again. */
  readonly runnerId?: string | undefined;
  /**
   * Jobs whose steps a previous process on this work dir started (its step groups' journal): told
   * at the first registration, so that the server counts them as lost by that process, not as
   * never received.
   */
  readonly ranBefore?: readonly { readonly id: string; readonly attempt: number }[] | undefined;
  /** Called at the process's first registration and whenever the runner id changes. */
  readonly onRegistered?: (runnerId: string) => void;
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
  /** Milliseconds since a server last answered (0 while connected). */
  readonly unreachableMs: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** A report as it goes over the wire (see /runner/v1/reports). */
type WireReport =
  | { type: "heartbeat"; job_id: string; attempt: number }
  | { type: "step_started"; job_id: string; attempt: number; step_id: string }
  | { type: "step_log"; job_id: string; attempt: number; step_id: string; offset: number; text: string }
  | {
      type: "step_finished";
      job_id: string;
      attempt: number;
      step_id: string;
      status: StepOutcomeStatus;
      message: string | null;
      outputs?: readonly StepOutput[];
    }
  | {
      type: "job_finished";
      job_id: string;
      attempt: number;
      status: StepOutcomeStatus;
      next_step: number;
      message: string | null;
    };

interface Queued {
  readonly report: WireReport;
  readonly bytes: number;
  /** Whether the attempt still held the job; undefined when the report was given up. */
  readonly settle: (held: boolean | undefined) => void;
}

/** A step's text waits at most this long for more to go with it (less when none is in flight). */
const LOG_FLUSH_MS = 100;
const LOG_FLUSH_BYTES = 256 * 1024;
/** A batch of reports stays under this many bytes of log text (the server's body limit is larger). */
const BATCH_BYTES = 4 * 1024 * 1024;
const BATCH_REPORTS = 2000;

interface RunningJob {
  readonly attempt: number;
  readonly controller: AbortController;
}

/** Tries of one artifact or cache transfer (0.5 s doubling to 5 s between them: about 20 s). */
const TRANSFER_TRIES = 6;

/** Socket errors that mean the server went or cannot be reached (not a failure of ours). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** A failure worth another try: the server gone or cut off, or a gateway's or a busy server's answer. */
const transient = (err: unknown): boolean =>
  err instanceof HttpError
    ? err.status === 502 || err.status === 503 || err.status === 504
    : NETWORK_CODES.has(String((err as { code?: unknown } | null)?.code));

const ok = (res: IncomingMessage): boolean => (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;

async function readAll(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

export function createAgent(opts: AgentOptions): Agent {
  // The job stream, a batch of reports and a register can be open at once.
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const clock = opts.clock ?? systemClock;
  const serverList = (): string[] =>
    (typeof opts.server === "function" ? opts.server() : opts.server)
      .split(",")
      .map((s) => s.trim().replace(/\/+$/, ""))
      .filter(Boolean);
  const token = (): string => (typeof opts.token === "function" ? opts.token() : opts.token);
  /** The replica talked to, counted from the one the name picks; a failure moves to the next. */
  let current = 0;
  const base = (): string => {
    const list = serverList();
    if (list.length === 0) throw new Error("no server to connect to yet");
    return list[(firstServer(opts.name, list.length) + current) % list.length]!;
  };
  /**
   * The next tries go to the next replica, unless another request has already moved on from
   * this one (the stream and a batch of reports failing together must not move twice, back to
   * where they started).
   */
  const moveOn = (from: string): void => {
    if (serverList()[current % Math.max(1, serverList().length)] === from) current++;
  };
  const runner = createLocalRunner({
    workRoot: opts.workRoot,
    hostEnv: opts.hostEnv,
    killGraceMs: 1000,
    allowLocalClone: opts.allowLocalClone ?? false,
    containerRuntime: opts.containerRuntime,
    groups: opts.groups,
    sandbox: opts.sandbox,
    launcher: opts.launcher,
    lanes: opts.lanes,
    noNetwork: opts.noNetwork,
    clock,
  });
  const maxBackoff = opts.maxBackoffMs ?? 2000;
  const stopping = new AbortController();
  // Every running job listens to it.
  setMaxListeners(0, stopping.signal);
  const draining = new AbortController();
  let runnerId: string | undefined = opts.runnerId;
  /**
   * Until this process has registered once: it holds no job, whatever the previous process
   * under its runner id held (the server settles those at once when told so).
   */
  let fresh = true;
  let heartbeatMs = 1000;
  const jobs = new Map<string, RunningJob>();
  const done = new Set<Promise<void>>();
  /** Jobs received over streams so far: the server counts what it pushed against it. */
  let received = 0;
  /**
   * Jobs received whose reports the server has not answered yet (by attempt): they may still be
   * unconfirmed there. A stream opened names them, with the running ones, as held here; the server
   * puts back in the queue only the unconfirmed jobs of this runner that it does not name (pushed,
   * never received), so a job whose first step runs before its start was confirmed is not handed
   * to another runner meanwhile.
   */
  const unanswered = new Map<string, number>();
  let lastAnswer = clock.now();
  let connected = false;

  async function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const res = await request(path, body, signal);
    const text = await readAll(res);
    if (!ok(res)) throw new HttpError(res.statusCode ?? 0, text);
    return JSON.parse(text) as T;
  }

  /**
   * One POST over a kept-alive connection (node:http: lighter than fetch per request, and this
   * process sends a few every job).
   */
  async function request(path: string, body: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    let res: IncomingMessage;
    let server: string | undefined;
    try {
      server = base();
      const url = new URL(server + path);
      const secure = url.protocol === "https:";
      const payload = JSON.stringify(body);
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (secure ? https : http).request(
          url,
          {
            method: "POST",
            agent: secure ? httpsAgent : httpAgent,
            headers: {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(payload),
              "x-auth-token": token(),
            },
            ...(signal ? { signal } : {}),
          },
          resolve,
        );
        req.once("error", reject);
        req.end(payload);
      });
    } catch (err) {
      connected = false;
      // Unreachable: the next try goes to the next replica. The error names the one that failed
      // (a log line written after the switch would otherwise name the next one).
      if (!signal?.aborted && server !== undefined) moveOn(server);
      if (server !== undefined && err instanceof Error && !err.message.startsWith(server))
        err.message = `${server}: ${err.message}`;
      throw err;
    }
    connected = true;
    lastAnswer = clock.now();
    // 503: this replica is starting (its database away) or stopping; another may serve.
    if (res.statusCode === 503) moveOn(server);
    return res;
  }

  /**
   * An artifact's bytes to or from the server, streamed (PUT with `body`, else GET). Not retried:
   * a stream cannot be sent again, and the job fails with what went wrong.
   */
  async function transfer(
    path: string,
    body: Readable | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const server = base();
    try {
      return await transferTo(server, path, body, signal);
    } catch (err) {
      // The next try goes to the next replica (this one may be stopping, or cut off).
      if (!signal.aborted && transient(err)) moveOn(server);
      throw err;
    }
  }

  async function transferTo(
    server: string,
    path: string,
    body: Readable | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const url = new URL(server + path);
    const secure = url.protocol === "https:";
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (secure ? https : http).request(
        url,
        {
          method: body ? "PUT" : "GET",
          agent: secure ? httpsAgent : httpAgent,
          headers: {
            "x-auth-token": token(),
            ...(body ? { "content-type": "application/octet-stream", "transfer-encoding": "chunked" } : {}),
          },
          signal,
        },
        resolve,
      );
      req.once("error", reject);
      if (!body) req.end();
      else {
        body.once("error", (err) => req.destroy(err));
        body.pipe(req);
      }
    });
    if (!ok(res)) {
      const text = await readAll(res);
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { error_msg?: string }).error_msg ?? message;
      } catch {
        // not JSON: the text as it came
      }
      throw new HttpError(res.statusCode ?? 0, message);
    }
    return res;
  }

  const sleep = (ms: number): Promise<void> => clock.sleep(ms, stopping.signal);

  /**
   * An artifact's or cache's transfer, tried again while the failure is one a moment cures: no
   * answer (a replica gone or cut off) or 502/503/504 (stopping, starting, its database away).
   * The server keeps an upload once (an upload tried again replaces or keeps the same bytes).
   */
  async function retried<T>(what: string, signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
    let wait = 500;
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (err) {
        if (signal.aborted || stopping.signal.aborted || !transient(err) || tries >= TRANSFER_TRIES)
          throw err;
        opts.log(`${what}: ${(err as Error).message}; trying again in ${wait} ms`);
        await clock.sleep(wait, signal);
        wait = Math.min(5000, wait * 2);
      }
    }
  }
  const notRegistered = (err: unknown): boolean =>
    err instanceof HttpError && err.status === 400 && err.message.includes("not registered");

  async function register(): Promise<void> {
    let backoff = 100;
    while (!stopping.signal.aborted) {
      try {
        const r = await post<{ runner_id: string; heartbeat_ms: number; previous_jobs?: number }>(
          "/runner/v1/register",
          {
            ...(runnerId ? { runner_id: runnerId } : {}),
            ...(fresh ? { fresh: true } : {}),
            ...(fresh && (opts.ranBefore ?? []).length > 0
              ? {
                  ran: opts
                    .ranBefore!.slice(0, LIMITS.runnerHolding)
                    .map((j) => ({ job_id: j.id, attempt: j.attempt })),
                }
              : {}),
            name: opts.name,
            labels: opts.labels,
            slots: opts.slots,
            version: opts.version,
          },
        );
        const changed = r.runner_id !== runnerId;
        runnerId = r.runner_id;
        heartbeatMs = r.heartbeat_ms;
        if (fresh || changed) opts.onRegistered?.(runnerId);
        opts.log(
          `registered with ${base()} as ${opts.name} (${runnerId}), ${opts.slots} slots, labels [${opts.labels.join(", ")}]`,
        );
        if (fresh && (r.previous_jobs ?? 0) > 0) {
          opts.log(
            `the previous process of this runner held ${r.previous_jobs} job(s): each goes to a runner again (once; a second loss fails it)`,
          );
        }
        fresh = false;
        return;
      } catch (err) {
        if (
          err instanceof HttpError &&
          err.status === 403 &&
          runnerId !== undefined &&
          err.message.includes(RUNNER_OF_ANOTHER_CREDENTIAL_CODE)
        ) {
          // The work dir kept the id of a runner registered with another token (the token was
          // replaced): this credential's runner is a new one.
          opts.log(`runner ${runnerId} belongs to another credential: registering as a new runner`);
          runnerId = undefined;
          continue;
        }
        if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
          throw new Error(`the server refused the runner token: ${err.message}`);
        }
        opts.log(`cannot register: ${(err as Error).message}; retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  // --- Reports: one queue, one batch in flight, each batch retried until a server answers it.
  const queue: Queued[] = [];
  let sending: Promise<void> | undefined;

  function report(r: WireReport): Promise<boolean | undefined> {
    return new Promise((settle) => {
      const bytes =
        r.type === "step_log"
          ? r.text.length
          : r.type === "step_finished" && r.outputs
            ? r.outputs.reduce((n, o) => n + o.key.length + o.value.length, 0)
            : 0;
      queue.push({ report: r, bytes, settle });
      // From the next turn: reports made together (a step's end and its job's) go as one batch.
      sending ??= new Promise<void>((resolve) => setImmediate(resolve))
        .then(sendAll)
        .finally(() => (sending = undefined));
    });
  }

  async function sendAll(): Promise<void> {
    let backoff = 50;
    while (queue.length > 0) {
      if (stopping.signal.aborted) {
        for (const q of queue.splice(0)) q.settle(undefined);
        return;
      }
      let n = 0;
      let bytes = 0;
      while (n < queue.length && n < BATCH_REPORTS && (n === 0 || bytes + queue[n]!.bytes <= BATCH_BYTES)) {
        bytes += queue[n]!.bytes;
        n++;
      }
      const batch = queue.slice(0, n);
      // Contiguous log chunks of one step go as one; each of them gets the answer of the whole.
      const wire: WireReport[] = [];
      const slot: number[] = [];
      for (const q of batch) {
        const last = wire.at(-1);
        const r = q.report;
        if (
          r.type === "step_log" &&
          last?.type === "step_log" &&
          last.step_id === r.step_id &&
          last.attempt === r.attempt &&
          last.offset + Buffer.byteLength(last.text) === r.offset
        ) {
          wire[wire.length - 1] = { ...last, text: last.text + r.text };
        } else {
          wire.push(r);
        }
        slot.push(wire.length - 1);
      }
      try {
        const r = await post<{ held: boolean[] }>("/runner/v1/reports", {
          runner_id: runnerId,
          // Never below 0: a runner pushed more jobs than it has slots still gets its reports in
          // (the server refuses a negative count, and a refused batch is given up).
          free: Math.max(0, opts.slots - jobs.size),
          received,
          reports: wire,
        });
        queue.splice(0, n);
        batch.forEach((q, i) => {
          const held = r.held[slot[i]!] === true;
          // The server knows the job is here (a start or a heartbeat confirms it; its end ends it),
          // or it is no longer ours: nothing of it can be put back in the queue under us now.
          const settles =
            !held ||
            q.report.type === "heartbeat" ||
            q.report.type === "step_started" ||
            q.report.type === "job_finished";
          if (settles && unanswered.get(q.report.job_id) === q.report.attempt)
            unanswered.delete(q.report.job_id);
          q.settle(held);
        });
        backoff = 50;
      } catch (err) {
        if (notRegistered(err)) {
          await register();
          continue;
        }
        if (err instanceof HttpError && err.status >= 400 && err.status < 500) {
          // Retrying would not help: these reports are given up (their leases run out).
          opts.log(`reports: the server refused them (${err.message}); giving them up`);
          queue.splice(0, n);
          for (const q of batch) q.settle(undefined);
          continue;
        }
        opts.log(`reports: ${(err as Error).message}; retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  // --- Jobs.
  function execute(job: JobAssignment): void {
    const controller = new AbortController();
    const onStop = (): void => controller.abort();
    stopping.signal.addEventListener("abort", onStop, { once: true });
    const key = { job_id: job.jobRunId, attempt: job.attempt };
    jobs.set(job.jobRunId, { attempt: job.attempt, controller });
    unanswered.set(job.jobRunId, job.attempt);
    /** Fenced out: the server gave the job to someone else or it was stopped. */
    const lost = (held: boolean | undefined): void => {
      if (held === false) controller.abort();
    };
    // The job's first report (its first step's start, or its end) confirms it: a claim the
    // runner got is then not mistaken for a lost answer. Until then the job is named as held
    // whenever a stream opens (`unanswered`), so its step need not wait for that answer.

    // Log chunks per step go out in order, batched; offsets make resends harmless.
    const buffers = new Map<string, { offset: number; parts: string[]; bytes: number }>();
    const flush = (stepId: string): Promise<void> => {
      const b = buffers.get(stepId);
      if (!b || b.parts.length === 0) return Promise.resolve();
      const text = b.parts.join("");
      const offset = b.offset;
      b.offset += Buffer.byteLength(text);
      b.parts = [];
      b.bytes = 0;
      return report({ type: "step_log", ...key, step_id: stepId, offset, text }).then(lost);
    };
    const flusher = clock.setInterval(() => {
      for (const id of buffers.keys()) void flush(id);
    }, LOG_FLUSH_MS);
    // Text goes out at the next turn when no report is on its way (a live reader sees it at
    // once); while one is, it gathers and goes with the next batch.
    let soon = false;
    const flushSoon = (): void => {
      if (soon) return;
      soon = true;
      setImmediate(() => {
        soon = false;
        if (sending === undefined) for (const id of buffers.keys()) void flush(id);
      });
    };

    const reporter: JobReporter = {
      async stepStarted(stepId) {
        buffers.set(stepId, { offset: 0, parts: [], bytes: 0 });
        // Not waited for (a round trip before every step): the step runs while its start goes
        // out with the next batch; an answer that the job is no longer ours stops it then.
        void report({ type: "step_started", ...key, step_id: stepId }).then(lost);
      },
      stepOutput(stepId, text) {
        const b = buffers.get(stepId);
        if (!b) return;
        b.parts.push(text);
        b.bytes += text.length;
        if (b.bytes >= LOG_FLUSH_BYTES) void flush(stepId);
        else flushSoon();
      },
      async stepFinished(stepId, status: StepOutcomeStatus, message, outputs) {
        void flush(stepId);
        buffers.delete(stepId);
        if (stopping.signal.aborted) return;
        // Not waited for: reports go in order.
        const r = {
          type: "step_finished" as const,
          ...key,
          step_id: stepId,
          status,
          message,
          ...(outputs && outputs.length > 0 ? { outputs } : {}),
        };
        void report(r).then(lost);
      },
      async uploadArtifact(name, body) {
        const q = `?runner_id=${runnerId}&attempt=${job.attempt}`;
        const path = `/runner/v1/jobs/${job.jobRunId}/artifacts/${encodeURIComponent(name)}${q}`;
        return retried(`artifact ${name}`, controller.signal, async () =>
          JSON.parse(await readAll(await transfer(path, body(), controller.signal))),
        ) as Promise<{ sha256: string; size: number }>;
      },
      async restoreCache(key) {
        const q = `?runner_id=${runnerId}&attempt=${job.attempt}&key=${encodeURIComponent(key)}`;
        try {
          return await retried(`cache ${key}`, controller.signal, () =>
            transfer(`/runner/v1/jobs/${job.jobRunId}/cache${q}`, undefined, controller.signal),
          );
        } catch (err) {
          // A miss: the job goes on without it.
          if (err instanceof HttpError && err.status === 404 && err.message.includes("no cache entry"))
            return undefined;
          throw err;
        }
      },
      async saveCache(key, body) {
        const q = `?runner_id=${runnerId}&attempt=${job.attempt}&key=${encodeURIComponent(key)}`;
        const path = `/runner/v1/jobs/${job.jobRunId}/cache${q}`;
        return retried(`cache ${key}`, controller.signal, async () =>
          JSON.parse(await readAll(await transfer(path, body(), controller.signal))),
        ) as Promise<{ sha256: string; size: number }>;
      },
      async downloadArtifact(name) {
        const q = `?runner_id=${runnerId}&attempt=${job.attempt}`;
        // Until its bytes start to come: a stream half read cannot be asked for again.
        return retried(`artifact ${name}`, controller.signal, () =>
          transfer(
            `/runner/v1/jobs/${job.jobRunId}/artifacts/${encodeURIComponent(name)}${q}`,
            undefined,
            controller.signal,
          ),
        );
      },
    };

    const p = runner
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
        for (const id of buffers.keys()) void flush(id);
        jobs.delete(job.jobRunId);
        if (stopping.signal.aborted) return;
        // The final status is retried until a server acknowledges it.
        await report({
          type: "job_finished",
          ...key,
          status: outcome.status,
          next_step: outcome.nextStep,
          message: outcome.message,
        });
      })
      .finally(() => {
        flusher.cancel();
        jobs.delete(job.jobRunId);
        // Its end was answered (or given up, or this process stops): nothing of it is on its way.
        if (unanswered.get(job.jobRunId) === job.attempt) unanswered.delete(job.jobRunId);
        stopping.signal.removeEventListener("abort", onStop);
        done.delete(p);
      });
    done.add(p);
  }

  // --- Leases: one heartbeat per running job every heartbeatMs, in the shared queue. Each beat
  // sets the next with the interval the server gave at the last registration.
  let beat: Timer;
  const nextBeat = (): void => {
    beat = clock.setTimeout(() => {
      for (const [id, j] of jobs) {
        void report({ type: "heartbeat", job_id: id, attempt: j.attempt }).then((held) => {
          if (held === false) j.controller.abort();
        });
      }
      nextBeat();
    }, heartbeatMs);
  };
  nextBeat();

  // --- The stream: jobs and cancels pushed by the server while it is open.
  async function streamOnce(signal: AbortSignal): Promise<void> {
    const server = base();
    const holding = new Map<string, number>(unanswered);
    for (const [id, j] of jobs) holding.set(id, j.attempt);
    const res = await request(
      "/runner/v1/stream",
      {
        runner_id: runnerId,
        labels: opts.labels,
        free: Math.max(0, opts.slots - jobs.size),
        received,
        holding: [...holding]
          .slice(0, LIMITS.runnerHolding)
          .map(([job_id, attempt]) => ({ job_id, attempt })),
      },
      signal,
    );
    if (!ok(res)) throw new HttpError(res.statusCode ?? 0, await readAll(res));
    const decoder = new TextDecoder();
    const parse = createSseParser((e) => {
      if (e.event === "jobs") {
        const { jobs: pushed } = JSON.parse(e.data) as { jobs: JobAssignment[] };
        for (const job of pushed) {
          received++;
          execute(job);
        }
      } else if (e.event === "cancel") {
        const { jobs: cut } = JSON.parse(e.data) as { jobs: { job_id: string; attempt: number }[] };
        for (const c of cut) {
          const j = jobs.get(c.job_id);
          if (j && j.attempt === c.attempt) j.controller.abort();
        }
      }
    });
    for await (const chunk of res as AsyncIterable<Buffer>) {
      lastAnswer = clock.now();
      parse(decoder.decode(chunk, { stream: true }));
    }
    // The server ended the stream: it is stopping. The next one opens on the next replica (the
    // jobs running here go on; their reports find a server through the queue's retries).
    if (!signal.aborted) moveOn(server);
  }

  async function loop(): Promise<void> {
    await register();
    let backoff = 100;
    const closed = AbortSignal.any([draining.signal, stopping.signal]);
    while (!closed.aborted) {
      try {
        await streamOnce(closed);
        backoff = 100;
      } catch (err) {
        if (closed.aborted) break;
        if (notRegistered(err)) {
          await register();
          continue;
        }
        opts.log(`the job stream broke: ${(err as Error).message}; reconnecting in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
    while (done.size > 0) await Promise.all(done);
    await sending;
    beat.cancel();
    httpAgent.destroy();
    httpsAgent.destroy();
  }

  let loopDone: Promise<void> | undefined;
  return {
    run() {
      loopDone ??= loop();
      return loopDone;
    },
    async drain() {
      draining.abort();
      await (loopDone ?? Promise.resolve());
    },
    stop() {
      stopping.abort();
      draining.abort();
      beat.cancel();
    },
    get running() {
      return jobs.size;
    },
    get unreachableMs() {
      return connected ? 0 : clock.now() - lastAnswer;
    },
  };
}

/**
 * Which of `count` servers an agent named `name` talks to first: a hash of the name (FNV-1a), so
 * that agents given the same list spread over it, and each keeps its choice across restarts.
 */
export function firstServer(name: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return count > 0 ? h % count : 0;
}

export function defaultRunnerName(): string {
  return `${os.hostname()}-${process.pid}`;
}

/** Reads a small file written by the server (its URL, the runner token), trimmed; "" if missing. */
export function readTrimmed(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}
