// Runs a shell step's script with `bash -e` in its workspace, on top of runProcess.

import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { resolve } from "node:path";
import type { HostEnv, ProcessResult, StepProcessOptions } from "./process.js";
import { buildStepEnv, runProcess } from "./process.js";

/** Runner-private directory inside a workspace (listed in .gitignore). */
export const RUNNER_DIR = ".pipewright";

/**
 * Where the runner puts a step's own files: its script, its start-up file and its outputs file.
 * By default the workspace's RUNNER_DIR, on the workspace's disk. A sandbox lane has one of its
 * own on the lanes' tmpfs (lanes.ts): a short step then creates and removes no file on disk,
 * where each costs the journal more than the step's spawn does.
 */
export interface StepFilesDir {
  /** The directory as the runner reaches it. */
  readonly path: string;
  /** The same directory as the step sees it (in its sandbox). */
  readonly seen: string;
  /**
   * Made and kept by the runner, in a directory of root's: the step cannot swap it for a link,
   * so it is neither made nor checked per step (the files in it may still be the step's to
   * change). False: the workspace's, which the step can replace.
   */
  readonly own: boolean;
}

/** The workspace's runner directory: made by the runner, the step's to change. */
export const workspaceFiles = (workspace: string): StepFilesDir => {
  const dir = resolve(workspace, RUNNER_DIR);
  return { path: dir, seen: dir, own: false };
};

/**
 * Makes the workspace's runner directory for a step's files (a lane's own is there already).
 * Not recursive: a missing workspace is an error to report, not something to create.
 */
export function prepareFilesDir(
  files: StepFilesDir,
  owner: { readonly uid: number; readonly gid: number } | undefined,
): void {
  if (files.own) return;
  try {
    fs.mkdirSync(files.path);
  } catch (err) {
    if (!isExistsError(err)) throw err;
  }
  if (owner) fs.chownSync(files.path, owner.uid, owner.gid);
}

export interface ShellScriptOptions extends StepProcessOptions {
  script: string;
  /** PATH/HOME/LANG of the runner host, used where `env` (the step's own) does not set them. */
  hostEnv?: HostEnv | undefined;
  /** Where the script and the start-up file go; the workspace's runner directory by default. */
  files?: StepFilesDir | undefined;
}

/**
 * The script goes to a temp file `<cwd>/.pipewright/step-<uuid>.sh` (mode 0600, deleted after the
 * run) rather than `bash -c`: an argument is capped at 128 KiB by Linux (MAX_ARG_STRLEN) and is
 * readable by every local user in `ps` and /proc/<pid>/cmdline, while scripts can be long and
 * carry substituted variables. The file needs no exec bit, so noexec workspaces work too.
 * The directory is left in place, empty: git does not see empty directories, and removing it
 * could race with a concurrent step that just created it.
 * The files are written and removed synchronously: small writes in a local workspace take
 * microseconds, and through the thread pool they cost a short step more CPU than its spawn.
 */
export async function runShellScript(opts: ShellScriptOptions): Promise<ProcessResult> {
  const startedAt = performance.now();
  const files = opts.files ?? workspaceFiles(opts.cwd);
  const dir = files.path;
  const name = `step-${randomUUID()}.sh`;
  const file = resolve(dir, name);
  try {
    prepareFilesDir(files, opts.owner);
    fs.writeFileSync(file, opts.script, { mode: 0o600, flag: "wx" });
    if (opts.owner) fs.chownSync(file, opts.owner.uid, opts.owner.gid);
  } catch (err) {
    return notStarted(startedAt, `cannot write the step script into ${dir}`, err);
  }
  // A gated step (its process group recorded before it runs) waits in bash's own start-up file,
  // which also sets the sandbox's process limit: no shell or prlimit in front of bash.
  // A launcher that holds every process at its own gate (the forkserver) needs the file only for
  // the limit.
  const selfGated = opts.launcher?.gatesItself === true;
  const gated = opts.onSpawn !== undefined && !selfGated;
  const nproc = opts.sandbox?.sandbox.nproc;
  const startupName = gated || (selfGated && nproc !== undefined) ? `start-${randomUUID()}.sh` : undefined;
  const startup = startupName === undefined ? undefined : resolve(dir, startupName);
  try {
    if (startup) {
      const lines = [
        ...(gated
          ? ['IFS= read -r __pipewright_go <&3 && [ "$__pipewright_go" = go ] || exit 125', "exec 3<&-"]
          : []),
        "unset BASH_ENV __pipewright_go",
        ...(nproc !== undefined ? [`ulimit -u ${nproc}`] : []),
      ];
      fs.writeFileSync(startup, `${lines.join("\n")}\n`, { mode: 0o600, flag: "wx" });
      if (opts.owner) fs.chownSync(startup, opts.owner.uid, opts.owner.gid);
    }
    const { script: _script, hostEnv, owner: _owner, files: _files, ...common } = opts;
    return await runProcess({
      ...common,
      ...(startup && common.sandbox
        ? { sandbox: { ...common.sandbox, spec: { ...common.sandbox.spec, limitsItself: true } } }
        : {}),
      gatedByCommand: gated,
      command: "bash",
      args: ["-e", resolve(files.seen, name)],
      env: {
        ...buildStepEnv(opts.env, hostEnv),
        ...(startupName ? { BASH_ENV: resolve(files.seen, startupName) } : {}),
      },
    });
  } catch (err) {
    return notStarted(startedAt, `cannot write the step's start-up file into ${dir}`, err);
  } finally {
    // The script may have removed it itself (git clean -fdx) or made the directory read-only; a
    // leftover file is harmless, turning the step's result into an exception would not be.
    // unlink, not rm: rm looks at the file first (an lstat per file, per step).
    for (const f of startup ? [file, startup] : [file]) {
      try {
        fs.unlinkSync(f);
      } catch {
        // removed by the script itself, or a read-only directory: harmless (see above)
      }
    }
  }
}

/** The result of a step whose files could not be written: it never started. */
function notStarted(startedAt: number, what: string, err: unknown): ProcessResult {
  const message = err instanceof Error ? err.message : String(err);
  return {
    exitCode: null,
    signal: null,
    durationMs: performance.now() - startedAt,
    timedOut: false,
    aborted: false,
    spawnError: `${what}: ${message}`,
  };
}

function isExistsError(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === "EEXIST";
}
