// The embedded runner's supervisor, in the server: starts the runner process (`pipewright runner
// --embedded <data dir>`, detached, so that a crash of the server does not take it along),
// adopts the one already running after a server restart, and starts it again when it dies, after
// telling the engine that the jobs of the dead one are lost (the lease rules decide at once). On a
// clean stop the runner drains with the server; on a crash it goes on and delivers its jobs'
// results to the next server.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { hashToken, newSecret } from "./api/auth.js";
import type { Clock, Timer } from "./clock.js";
import type { Engine } from "./engine/engine.js";
import { embeddedRunnerFiles, isRunnerProcess, readHolder } from "./runner/embedded.js";
import type { CredentialStore } from "./store/store.js";

export interface RunnerSupervisor {
  /** Writes the server's URL and the runner's token, then adopts or starts the runner. */
  start(url: string): Promise<void>;
  /** The runner process's pid, while there is one. */
  readonly pid: number | undefined;
  /**
   * Set while the runner keeps dying young (FAILING_AFTER deaths in a row, each within STABLE_MS
   * of its start, and none up for STABLE_MS since): no job runs then.
   */
  readonly failing: { readonly deaths: number; readonly why: string } | undefined;
  /**
   * Lets the runner drain (no new jobs; running ones finish and are reported) and waits until it
   * has exited, for at most `timeoutMs`; answers false when it had not by then.
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Stops supervising; with force, stops the runner at once (its jobs killed). */
  stop(opts?: { force?: boolean }): Promise<void>;
}

export interface SupervisorOptions {
  readonly dataDir: string;
  readonly slots: number;
  readonly allowLocalClone: boolean;
  /** The docker or podman the runner's container-image steps run through (`--container-runtime`). */
  readonly containerRuntime?: string | undefined;
  /** Extra arguments for the runner (tests: --no-sandbox). */
  readonly runnerArgs: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The CLI entry the runner process runs: next to this module, or the build of it (tests run the sources). */
export function cliEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const built = path.join(path.dirname(here), "cli", "main.js");
  if (fs.existsSync(built)) return built;
  const fromSources = path.resolve(path.dirname(here), "..", "dist", "src", "cli", "main.js");
  if (fs.existsSync(fromSources)) return fromSources;
  throw new Error(
    `cannot find the CLI to start the runner (looked for ${built} and ${fromSources}): npm run build`,
  );
}

/** A runner that ends sooner than this after its start died young (its restarts back off). */
const STABLE_MS = 10_000;
/** Young deaths in a row after which the runner is reported failing (/healthz, the log). */
export const FAILING_AFTER = 3;
/** Lines of the runner's log the server's log quotes when the runner keeps dying. */
const LOG_TAIL_LINES = 5;

/** The last lines of a file (its last 64 KiB read); none when it cannot be read. */
function tail(file: string, lines: number): string[] {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString("utf8").split("\n").filter(Boolean).slice(-lines);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** What the runner process gets of the server's environment, besides PIPEWRIGHT_RUNNER_*. */
const RUNNER_ENV = ["PATH", "HOME", "LANG"];

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return isRunnerProcess(pid);
  } catch {
    return false;
  }
};

export function createRunnerSupervisor(
  opts: SupervisorOptions,
  deps: {
    readonly store: CredentialStore;
    readonly engine: Pick<Engine, "runnerGone">;
    readonly logger: Logger;
    readonly clock: Clock;
    readonly newId: () => string;
  },
): RunnerSupervisor {
  const { store, engine, logger, clock } = deps;
  const files = embeddedRunnerFiles(opts.dataDir);
  let pid: number | undefined;
  let child: ChildProcess | undefined;
  let watch: Timer | undefined;
  let stopping = false;
  let restarts = 0;
  let lastStart = 0;
  /** Deaths in a row, each young (see STABLE_MS), and why the last one died. */
  let deathsInRow = 0;
  let lastWhy = "";
  let restartTimer: Timer | undefined;

  /** A file the runner reads, written whole (write and rename) with mode 0600. */
  function writePrivate(file: string, text: string): void {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, file);
  }

  /** The runner's token: the stored one while its credential is valid, else a new credential. */
  async function ensureToken(): Promise<void> {
    let token = "";
    try {
      token = fs.readFileSync(files.token, "utf8").trim();
    } catch {
      // none yet
    }
    if (token !== "") {
      const cred = await store.findTokenByHash(hashToken(token));
      if (cred && cred.revoked_time === null && cred.role === "runner") return;
    }
    token = `pw_runner_${newSecret()}`;
    await store.createToken(
      {
        id: deps.newId(),
        name: "embedded runner",
        role: "runner",
        project_ids: [],
        create_time: clock.now(),
        revoked_time: null,
      },
      hashToken(token),
    );
    writePrivate(files.token, `${token}\n`);
  }

  function spawnRunner(): void {
    lastStart = clock.now();
    const log = fs.openSync(files.log, "a", 0o600);
    try {
      child = spawn(
        process.execPath,
        [
          cliEntry(),
          "runner",
          "--embedded",
          opts.dataDir,
          "--slots",
          String(opts.slots),
          ...(opts.allowLocalClone ? ["--allow-local-clone"] : []),
          ...(opts.containerRuntime ? ["--container-runtime", opts.containerRuntime] : []),
          ...opts.runnerArgs,
        ],
        {
          detached: true,
          stdio: ["ignore", log, log],
          // The runner's own settings pass through (the sandbox, its process limit); nothing else.
          env: Object.fromEntries(
            Object.entries(opts.env).filter(
              ([k, v]) => v !== undefined && (RUNNER_ENV.includes(k) || k.startsWith("PIPEWRIGHT_RUNNER_")),
            ),
          ),
        },
      );
    } finally {
      fs.closeSync(log);
    }
    child.unref();
    pid = child.pid;
    const mine = child;
    mine.once("exit", (code) => {
      if (child === mine) child = undefined;
      // Another runner holds the work dir (started by an earlier server): that one is adopted.
      void died(mine.pid, code === 3 ? "locked" : `exited with ${code ?? "a signal"}`);
    });
    logger.info({ runner_pid: pid, log: files.log }, "started the runner process");
  }

  /** The runner is gone: its jobs are lost (lease rules), and a new one starts unless we stop. */
  async function died(deadPid: number | undefined, why: string): Promise<void> {
    if (deadPid !== pid) return;
    pid = undefined;
    if (stopping) return;
    if (why === "locked") {
      adoptOrSpawn();
      return;
    }
    const holder = readHolder(files.holder);
    logger.warn({ runner_pid: deadPid, why }, "the runner process died; starting it again");
    if (holder?.runner_id) {
      await engine
        .runnerGone(holder.runner_id)
        .catch((err: unknown) => logger.error({ err }, "ending the dead runner's leases failed"));
    }
    // Quick deaths one after another back off, up to 30 s.
    const young = clock.now() - lastStart < STABLE_MS;
    restarts = young ? restarts + 1 : 0;
    deathsInRow = young ? deathsInRow + 1 : 1;
    lastWhy = why;
    if (deathsInRow === FAILING_AFTER) {
      // Once per loop, with what the runner said last: the server's log is where operators look.
      logger.error(
        { deaths: deathsInRow, why, log: files.log, runner_log: tail(files.log, LOG_TAIL_LINES) },
        "the runner process keeps dying: no job runs until it stays up (its log says why)",
      );
    }
    const delay = Math.min(30_000, 200 * 2 ** restarts);
    restartTimer = clock.setTimeout(() => {
      if (stopping) return;
      // Its token may be why it died (revoked by an admin): a valid one first.
      ensureToken()
        .then(() => {
          if (!stopping) adoptOrSpawn();
        })
        .catch((err: unknown) => logger.error({ err }, "restarting the runner failed"));
    }, delay);
  }

  function adoptOrSpawn(): void {
    const holder = readHolder(files.holder);
    if (holder && alive(holder.pid)) {
      pid = holder.pid;
      logger.info({ runner_pid: pid }, "the runner process of an earlier server is still running: adopted");
      return;
    }
    spawnRunner();
  }

  return {
    get pid() {
      return pid;
    },

    get failing() {
      if (stopping || deathsInRow < FAILING_AFTER) return undefined;
      // Up for a while since: it recovered.
      if (pid !== undefined && clock.now() - lastStart >= STABLE_MS) return undefined;
      return { deaths: deathsInRow, why: lastWhy };
    },

    async start(url) {
      fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
      await ensureToken();
      writePrivate(files.serverUrl, `${url}\n`);
      const holder = readHolder(files.holder);
      if (holder && !alive(holder.pid) && holder.runner_id) {
        // The runner died while no server watched it: its jobs are lost now, not at lease end.
        await engine.runnerGone(holder.runner_id);
      }
      adoptOrSpawn();
      // An adopted runner is not our child: its end is seen by looking.
      watch = clock.setInterval(() => {
        if (pid !== undefined && child === undefined && !alive(pid)) void died(pid, "is gone");
      }, 1000);
    },

    async drain(timeoutMs) {
      stopping = true;
      restartTimer?.cancel();
      const target = pid;
      if (target === undefined) return true;
      try {
        process.kill(target, "SIGTERM");
      } catch {
        return true;
      }
      const deadline = clock.now() + timeoutMs;
      while (alive(target)) {
        if (clock.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    },

    async stop(stopOpts) {
      stopping = true;
      watch?.cancel();
      restartTimer?.cancel();
      const target = pid;
      if (!stopOpts?.force || target === undefined) return;
      // Twice: the second signal makes the agent stop at once, killing its jobs' process groups.
      for (const sig of ["SIGTERM", "SIGTERM"] as const) {
        try {
          process.kill(target, sig);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 5000;
      while (alive(target) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      if (alive(target)) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // gone
        }
      }
    },
  };
}
