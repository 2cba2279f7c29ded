// Runs one command as the leader of its own process group and makes sure nothing of it outlives
// the result: the building block under every shell step and checkout of the runner.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { Readable } from "node:stream";
import { type Clock, systemClock, type Timer } from "../clock.js";
import { withoutReservedVariables } from "../pipeline/environment.js";
import type { Sandbox, SandboxSpec } from "./sandbox.js";

export type OutputStream = "stdout" | "stderr";

/** How a process ended. A failed step is a result like this, never an exception. */
export interface ProcessResult {
  /** Exit code of the leader; null when a signal ended it or it never started. */
  exitCode: number | null;
  /** Signal that ended the leader, if any (SIGTERM/SIGKILL after a timeout or an abort). */
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** The timeout elapsed while the leader was still running and the group was terminated. */
  timedOut: boolean;
  /** The AbortSignal fired while the leader was still running (or before it was started). */
  aborted: boolean;
  /** Why the process could not be started at all (command not found, missing cwd, …). */
  spawnError?: string;
  /** Why the runner did not start it (no source to check out, a refused URL): the step's message. */
  refused?: string;
}

/** What every step process takes, whatever it runs (a script, a checkout). */
export interface StepProcessOptions {
  cwd: string;
  /** The complete environment of the process: nothing is inherited from ours. */
  env: Readonly<Record<string, string>>;
  signal?: AbortSignal | undefined;
  /** No limit when undefined. */
  timeoutMs?: number | undefined;
  /** Called synchronously for every chunk; it must not throw (it runs inside a stream handler). */
  onOutput: (chunk: Buffer, stream: OutputStream) => void;
  /**
   * The pid of the leader, which is also the id of the process group, before the command runs:
   * the process waits at a gate (a shell reading one line from fd 3) until this returns, so a
   * record of the group written here exists before any of the step's own code. A process whose
   * gate closes unopened (the runner died) exits without running the command. Must not throw.
   */
  onSpawn?: ((pid: number) => void) | undefined;
  /** Runs the command inside this sandbox (see sandbox.ts). */
  sandbox?: { readonly sandbox: Sandbox; readonly spec: SandboxSpec } | undefined;
  /**
   * The command waits at the gate itself (a bash step sources a start-up file that reads fd 3):
   * no shell in front of it. Only with onSpawn.
   */
  gatedByCommand?: boolean | undefined;
  /** The sandbox's user for this step: files the runner writes for it (a script) become its own. */
  owner?: { readonly uid: number; readonly gid: number } | undefined;
  /** Starts the process: the runner's forkserver, or spawnLauncher (the default). */
  launcher?: Launcher | undefined;
  /** Time between SIGTERM and SIGKILL of the group on timeout or abort. Default 2000. */
  killGraceMs?: number | undefined;
  /** Times the timeout and the kill grace (a test moves a test clock); the system clock by default. */
  clock?: Clock | undefined;
}

export interface RunProcessOptions extends StepProcessOptions {
  command: string;
  args: readonly string[];
}

export const DEFAULT_KILL_GRACE_MS = 2000;

/**
 * After the group got SIGKILL, its members are gone within milliseconds and the pipes reach EOF.
 * A pipe still open after this long is held by a process that left the group (setsid, a daemon):
 * we stop waiting for it instead of hanging the step forever.
 */
const PIPE_DRAIN_MS = 500;

/** Timers cannot wait longer than 2^31-1 ms (~24.8 days); longer limits mean "none". */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Used only when neither the step nor the caller provides PATH (see buildStepEnv). */
export const FALLBACK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Variables the runner host hands down to steps that do not set them themselves. */
export interface HostEnv {
  PATH?: string | undefined;
  HOME?: string | undefined;
  LANG?: string | undefined;
}

/**
 * A step's environment: exactly its own variables, plus PATH/HOME/LANG of the host where the step
 * sets none. Config flows down as parameters (the caller reads process.env in main.ts), so the one
 * read of process.env here is a last-resort PATH: without any PATH, `bash`/`git` and every command
 * of the script would only be found under libc's minimal default path.
 */
export function buildStepEnv(
  env: Readonly<Record<string, string>>,
  hostEnv?: HostEnv,
): Record<string, string> {
  const out = withoutReservedVariables(env);
  for (const key of ["PATH", "HOME", "LANG"] as const) {
    const value = hostEnv?.[key];
    if (out[key] === undefined && value !== undefined) out[key] = value;
  }
  out.PATH ??= process.env.PATH ?? FALLBACK_PATH;
  return out;
}

/**
 * True while any process (zombies included, until their parent reaps them) is in the group.
 * EPERM means the group exists but belongs to another user, which still counts as alive.
 */
export function isProcessGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === "EPERM";
  }
}

/**
 * Runs `command` without a shell as the leader of a new process group (detached: true), with stdin
 * ignored. On timeout or abort the whole group gets SIGTERM, then SIGKILL after killGraceMs.
 * When the leader exits on its own, the rest of its group gets SIGKILL at once: a step's
 * `sleep 1000 &` or a forgotten dev server would otherwise outlive the step and the run, keep the
 * workspace busy and hold our stdout/stderr pipes open. Resolves once the leader exited and both
 * pipes closed, or PIPE_DRAIN_MS after the group was killed when a process that escaped the group
 * (setsid) still holds them. Processes that escape the group are out of reach of this module.
 */
export function runProcess(opts: RunProcessOptions): Promise<ProcessResult> {
  const startedAt = performance.now();
  const elapsed = (): number => performance.now() - startedAt;
  const notStarted = (extra: Partial<ProcessResult>): ProcessResult => ({
    exitCode: null,
    signal: null,
    durationMs: elapsed(),
    timedOut: false,
    aborted: false,
    ...extra,
  });

  if (opts.signal?.aborted === true) return Promise.resolve(notStarted({ aborted: true }));

  let { command } = opts;
  let args = [...opts.args];
  if (opts.sandbox) ({ command, args } = opts.sandbox.sandbox.wrap(command, args, opts.sandbox.spec));
  const spec: LaunchSpec = {
    command,
    args,
    cwd: opts.cwd,
    // A copy, so that later changes to the caller's object cannot race with the start.
    env: { ...opts.env },
    gate: opts.onSpawn === undefined ? "none" : opts.gatedByCommand ? "command" : "self",
    displayName: opts.command,
  };
  return (opts.launcher ?? spawnLauncher).launch(spec).then((launched) => {
    if ("error" in launched) return notStarted({ spawnError: launched.error.message });
    return supervise(launched);
  });

  function supervise(child: LaunchedProcess): Promise<ProcessResult> {
    return new Promise<ProcessResult>((resolve) => {
      const { stdout, stderr, pid } = child;
      let leaderExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let startError: LaunchStartError | undefined;
      let stdoutOpen = true;
      let stderrOpen = true;
      let terminating = false;
      let groupKilled = false;
      let timedOut = false;
      let aborted = false;
      let finished = false;
      const clock = opts.clock ?? systemClock;
      let timeoutTimer: Timer | undefined;
      let graceTimer: Timer | undefined;
      // The drain is about pipes, not about the step's time: it always runs on the real clock.
      let drainTimer: NodeJS.Timeout | undefined;

      // Once the leader is reaped its pid could in theory be reused, but Linux never hands out a
      // pid still used as a process group id, and reuse of a freed one needs a full pid
      // wrap-around in the few milliseconds between reaping and this kill: a risk we accept.
      const signalGroup = (sig: NodeJS.Signals): void => {
        // kill(-0) and kill(-1) would reach our own group or every process we may signal.
        if (!(pid > 1)) return;
        if (child.signalGroup) {
          child.signalGroup(sig);
          return;
        }
        try {
          process.kill(-pid, sig);
        } catch {
          // ESRCH: the group is already empty, which is what we want.
        }
      };

      const killGroup = (): void => {
        signalGroup("SIGKILL");
        groupKilled = true;
        startDrain();
      };

      const startDrain = (): void => {
        if (finished || leaderExit === undefined || !groupKilled || drainTimer !== undefined) return;
        drainTimer = setTimeout(() => {
          stdout.destroy();
          stderr.destroy();
          stdoutOpen = false;
          stderrOpen = false;
          maybeFinish();
        }, PIPE_DRAIN_MS);
      };

      const maybeFinish = (): void => {
        if (finished || leaderExit === undefined || stdoutOpen || stderrOpen) return;
        finished = true;
        // Final sweep: a member that ignored SIGTERM and no longer holds our pipes must not
        // outlive the result, even if its grace period has not fully elapsed.
        if (!groupKilled) signalGroup("SIGKILL");
        timeoutTimer?.cancel();
        graceTimer?.cancel();
        clearTimeout(drainTimer);
        opts.signal?.removeEventListener("abort", onAbort);
        if (startError) {
          resolve(notStarted({ spawnError: startError.message }));
          return;
        }
        resolve({
          exitCode: leaderExit.code,
          signal: leaderExit.signal,
          durationMs: elapsed(),
          timedOut,
          aborted,
        });
      };

      const terminate = (reason: "timeout" | "abort"): void => {
        // After the leader exited the step is over: its group is being killed anyway.
        if (terminating || leaderExit !== undefined) return;
        terminating = true;
        if (reason === "timeout") timedOut = true;
        else aborted = true;
        timeoutTimer?.cancel();
        signalGroup("SIGTERM");
        graceTimer = clock.setTimeout(killGroup, Math.max(0, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS));
      };

      function onAbort(): void {
        terminate("abort");
      }

      stdout.on("data", (chunk: Buffer) => opts.onOutput(chunk, "stdout"));
      stderr.on("data", (chunk: Buffer) => opts.onOutput(chunk, "stderr"));
      // A read error on a pipe ends it like EOF; 'close' follows, so only keep it from throwing.
      stdout.on("error", () => {});
      stderr.on("error", () => {});
      stdout.once("close", () => {
        stdoutOpen = false;
        maybeFinish();
      });
      stderr.once("close", () => {
        stderrOpen = false;
        maybeFinish();
      });

      child.onExit((code, signal, error) => {
        leaderExit = { code, signal };
        startError = error;
        timeoutTimer?.cancel();
        if (terminating) {
          // Keep the grace period for the rest of the group (a test runner cleaning up after
          // SIGTERM while bash already died); the grace timer kills what is left.
          startDrain();
        } else {
          killGroup();
        }
        maybeFinish();
      });

      opts.signal?.addEventListener("abort", onAbort, { once: true });
      // Aborted while it was being started: it has not passed its gate, so nothing of it ran.
      if (opts.signal?.aborted) terminate("abort");
      const timeoutMs = opts.timeoutMs;
      if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
        timeoutTimer = clock.setTimeout(() => terminate("timeout"), Math.max(0, timeoutMs));
      }
      // A lane's pid is not ours to record: the lane's own group is (lanes.ts).
      if (!child.signalGroup) opts.onSpawn?.(pid);
      child.openGate();
    });
  }
}

/** What a launcher starts: a command as the leader of a new session and process group. */
export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /**
   * none: the command runs at once. self: the launcher holds it before the command until
   * openGate(). command: the command holds itself, reading "go" on fd 3 (a bash start-up file).
   */
  readonly gate: "none" | "self" | "command";
  /** The command as the step named it (before a sandbox wrapped it), for messages. */
  readonly displayName: string;
}

/** Why a command never became a process of its own. */
export interface LaunchStartError {
  readonly kind: "cwd" | "command" | "other";
  readonly message: string;
}

export interface LaunchedProcess {
  /** The leader's pid, which is also its process group's id. */
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Called once when the leader ended; with an error when it ended before becoming the command. */
  onExit(
    listener: (code: number | null, signal: NodeJS.Signals | null, error?: LaunchStartError) => void,
  ): void;
  /** Lets a gated process go on (once its group is recorded). */
  openGate(): void;
  /**
   * Signals the process's group where the runner cannot (it runs in a sandbox lane's pid
   * namespace, where `pid` is the lane's, not ours: it is then never recorded or signalled here).
   */
  readonly signalGroup?: ((sig: NodeJS.Signals) => void) | undefined;
}

/** Starts step processes: the runner itself (spawnLauncher) or its forkserver (forkserver.ts). */
export interface Launcher {
  readonly name: string;
  /** Every process waits at the launcher's own gate (the forkserver): commands need none. */
  readonly gatesItself?: boolean;
  launch(spec: LaunchSpec): Promise<LaunchedProcess | { readonly error: LaunchStartError }>;
}

/** The gate: wait for "go" on fd 3, close it, then become the command ($0 "$@"). */
const GATE = 'IFS= read -r go <&3 && [ "$go" = go ] || exit 125; exec 3<&-; exec "$0" "$@"';

/** Spawns from this process with child_process (libuv forks us, which costs with our size). */
export const spawnLauncher: Launcher = {
  name: "spawn",
  launch(spec) {
    let { command, args } = spec;
    const gated = spec.gate !== "none";
    let child: ChildProcess;
    try {
      if (spec.gate === "self") {
        // Started through the gate the command is not looked up by spawn: look it up here, so a
        // missing one is still told as such.
        if (!command.includes("/") && !onPath(command, spec.env.PATH)) {
          throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: "ENOENT" });
        }
        args = ["-c", GATE, command, ...args];
        command = "/bin/sh";
      }
      child = spawn(command, args, {
        cwd: spec.cwd,
        env: spec.env,
        detached: true,
        stdio: gated ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
        shell: false,
      });
    } catch (err) {
      // Synchronous throws are invalid arguments (a NUL byte in an argument, …).
      return Promise.resolve({ error: describeSpawnError(err, spec) });
    }
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    const pid = child.pid;
    if (pid === undefined) {
      // Node reports ENOENT/EACCES/missing cwd asynchronously through 'error'.
      return new Promise((resolve) => {
        child.once("error", (err) => {
          stdout.destroy();
          stderr.destroy();
          resolve({ error: describeSpawnError(err, spec) });
        });
      });
    }
    // With a live pid, 'error' can only come from child.kill(), which we never call.
    child.on("error", () => {});
    return Promise.resolve({
      pid,
      stdout,
      stderr,
      onExit: (listener) => child.once("exit", (code, signal) => listener(code, signal)),
      openGate: () => {
        const gate = child.stdio[3] as NodeJS.WritableStream | null;
        gate?.on("error", () => {});
        gate?.end("go\n");
      },
    });
  },
};

function onPath(command: string, pathEnv: string | undefined): boolean {
  return (pathEnv ?? FALLBACK_PATH).split(":").some((dir) => dir !== "" && existsSync(`${dir}/${command}`));
}

function describeSpawnError(err: unknown, spec: LaunchSpec): LaunchStartError {
  const code = errorCode(err);
  // libuv reports a missing working directory as ENOENT too, naming the command: tell them apart.
  if (code === "ENOENT" && !existsSync(spec.cwd)) {
    return { kind: "cwd", message: `working directory does not exist: ${spec.cwd}` };
  }
  if (code === "ENOENT") return { kind: "command", message: `command not found: ${spec.displayName}` };
  const message = err instanceof Error ? err.message : String(err);
  return { kind: "other", message: `cannot start ${spec.displayName}: ${message}` };
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  return typeof err.code === "string" ? err.code : undefined;
}
