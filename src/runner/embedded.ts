// The embedded runner's files in the server's data dir: how the server and its runner process
// find each other. The server writes its URL (at every start: tests listen on port 0) and the
// runner's token; the runner holds its lock, says who it is, records its step groups and logs.
//
//   <data dir>/runner/server-url    the server's URL, rewritten at each server start
//   <data dir>/runner/token         the runner credential's token (0600)
//   <data dir>/runner/runner.lock   held by the one runner process (an OS lock)
//   <data dir>/runner/runner.json   {pid, runner_id, started} of the runner holding the lock
//   <data dir>/runner/runner-id     the runner id the server gave, kept across restarts (0600)
//   <data dir>/runner/groups/       one record per running step's process group
//   <data dir>/runner/runner.log    the runner's output
//   <data dir>/workspaces/          job workspaces

import fs from "node:fs";
import path from "node:path";

export interface EmbeddedRunnerFiles {
  readonly dir: string;
  readonly serverUrl: string;
  readonly token: string;
  readonly lock: string;
  readonly holder: string;
  readonly runnerId: string;
  readonly groups: string;
  readonly log: string;
  readonly workRoot: string;
}

export function embeddedRunnerFiles(dataDir: string): EmbeddedRunnerFiles {
  const dir = path.join(dataDir, "runner");
  return {
    dir,
    serverUrl: path.join(dir, "server-url"),
    token: path.join(dir, "token"),
    lock: path.join(dir, "runner.lock"),
    holder: path.join(dir, "runner.json"),
    runnerId: path.join(dir, "runner-id"),
    groups: path.join(dir, "groups"),
    log: path.join(dir, "runner.log"),
    workRoot: path.join(dataDir, "workspaces"),
  };
}

/** What the runner process says about itself once it holds the lock and has registered. */
export interface RunnerHolder {
  readonly pid: number;
  readonly runner_id: string | null;
  readonly started: string;
}

export function readHolder(file: string): RunnerHolder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, "utf8")) as RunnerHolder;
    return Number.isInteger(h.pid) && h.pid > 0 ? h : undefined;
  } catch {
    return undefined;
  }
}

/** True while a process with this pid exists and runs a Pipewright runner. */
export function isRunnerProcess(pid: number): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.includes("runner") && cmdline.includes("--embedded");
  } catch {
    return false;
  }
}
