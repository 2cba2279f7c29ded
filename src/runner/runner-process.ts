// A runner process's start-up around the agent, the same for the embedded runner (started and
// supervised by its server) and remote ones: the work dir's lock (one runner per work dir, so no
// runner reaps another's steps), the reaping of step groups and the removal of workspaces a
// killed predecessor left, the runner id kept across restarts (work-dir.ts), the sandbox, and for
// the embedded one the files its server shares with it (embedded.ts).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import { tryLock } from "../os-lock.js";
import { type Agent, createAgent, readTrimmed } from "./agent.js";
import { embeddedRunnerFiles, readHolder } from "./embedded.js";
import { startForkserver } from "./forkserver.js";
import { createStepGroups } from "./groups.js";
import { type Lanes, mountOptions, startLanes } from "./lanes.js";
import { type HostEnv, type Launcher, spawnLauncher } from "./process.js";
import {
  createBubblewrapSandbox,
  findBubblewrap,
  findTool,
  NO_NETWORK_LABEL,
  NO_SANDBOX,
  type Sandbox,
} from "./sandbox.js";
import { readRunnerId, removeLeftovers, writeRunnerId } from "./work-dir.js";

export interface RunnerProcessOptions {
  /** Remote: the server(s) and token; embedded: read from the data dir's runner files. */
  readonly target:
    | { readonly kind: "remote"; readonly server: string; readonly token: string; readonly workDir: string }
    | { readonly kind: "embedded"; readonly dataDir: string };
  readonly slots: number;
  readonly labels: readonly string[];
  readonly name: string;
  readonly hostEnv: HostEnv;
  readonly allowLocalClone: boolean;
  /** The docker or podman container-image steps run through; none: those steps fail. */
  readonly containerRuntime?: string | undefined;
  /** Off: steps run as the runner's user on its file system even where bubblewrap works. */
  readonly sandbox: boolean;
  readonly noNetwork: boolean;
  /** Processes a job may have at once (in the sandbox). */
  readonly maxProcesses: number;
  readonly version: string;
  readonly log: (msg: string) => void;
  readonly clock?: Clock;
}

export interface RunnerProcess {
  readonly agent: Agent;
  readonly sandbox: Sandbox;
  /** Ends when the agent has drained or stopped; releases the lock. */
  run(): Promise<void>;
}

/** Exit code of a runner that found its work dir held by another runner process. */
export const EXIT_LOCKED = 3;

export class RunnerLockedError extends Error {
  override name = "RunnerLockedError";
}

/** Processes of the runner's user now (RLIMIT_NPROC counts them all when every step shares it). */
function processesOfUser(uid: number): number {
  let n = 0;
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.statSync(`/proc/${name}`).uid === uid) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

export function startRunnerProcess(opts: RunnerProcessOptions): RunnerProcess {
  const clock = opts.clock ?? systemClock;
  const target = opts.target;
  const embedded = target.kind === "embedded" ? embeddedRunnerFiles(target.dataDir) : undefined;
  const stateDir = target.kind === "embedded" ? embedded!.dir : path.resolve(target.workDir);
  // What steps must not see: the whole data dir (database, tokens, keys), or the runner's dir.
  const hidden = target.kind === "embedded" ? path.resolve(target.dataDir) : stateDir;
  const workRoot = embedded?.workRoot ?? path.join(stateDir, "work");
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(workRoot, { recursive: true, mode: 0o700 });
  const holderFile = embedded?.holder ?? path.join(stateDir, "runner.json");
  const started = new Date(clock.now()).toISOString();
  const lock = tryLock(embedded?.lock ?? path.join(stateDir, "runner.lock"), holderFile, {
    pid: process.pid,
    runner_id: null,
    started,
  });
  if (!lock) {
    const holder = readHolder(holderFile);
    const who = holder ? `pid ${holder.pid}, since ${holder.started}; ` : "";
    throw new RunnerLockedError(
      `another runner process works in ${stateDir} (${who}see ${holderFile}): one runner per work dir, give this one its own --work-dir`,
    );
  }
  try {
    const groups = createStepGroups(embedded?.groups ?? path.join(stateDir, "groups"));
    const reaped = groups.reapAll();
    if (reaped.killed > 0)
      opts.log(`killed ${reaped.killed} step process group(s) left by a runner that died`);
    // No job runs yet: every workspace there was left by an instance that died (its jobs go to
    // a runner again by the lease rules, and run from their start in a workspace of their own),
    // but for those of paused jobs, which go on in them.
    const left = removeLeftovers(workRoot);
    if (left.removed > 0) opts.log(`removed ${left.removed} job workspace(s) left by a runner that died`);
    if (left.kept > 0) opts.log(`kept ${left.kept} workspace(s) of jobs paused before a review or delay`);
    for (const f of left.failed) opts.log(`could not remove what a runner that died left: ${f}`);
    // The identity kept across restarts: a restarted agent is the same runner to the server.
    const idFile = embedded?.runnerId ?? path.join(stateDir, "runner-id");
    const runnerId = readRunnerId(idFile);

    let sandbox: Sandbox = NO_SANDBOX;
    const bwrap = opts.sandbox ? findBubblewrap(opts.hostEnv.PATH) : undefined;
    if (bwrap) {
      const root = process.getuid?.() === 0;
      const uid = process.getuid?.() ?? 0;
      sandbox = createBubblewrapSandbox(bwrap, {
        hidden: [hidden],
        // Per slot user when root; else every step shares our user, and its count with us.
        nproc: root ? opts.maxProcesses : opts.maxProcesses + processesOfUser(uid),
      });
      opts.log(
        `steps run in a bubblewrap sandbox (${bwrap})${root ? ", each slot as its own unprivileged user" : ""}`,
      );
    } else {
      opts.log(
        opts.sandbox
          ? "bubblewrap is not available here: steps run as this runner's user and can read what it can read (see docs/operations.md)"
          : "the sandbox is off (--no-sandbox): steps run as this runner's user and can read what it can read",
      );
    }
    if (opts.noNetwork && !sandbox.canCutNetwork) {
      throw new Error("--no-network needs the bubblewrap sandbox, which is not available here");
    }
    const labels = [...opts.labels];
    if (sandbox.canCutNetwork && !labels.includes(NO_NETWORK_LABEL)) labels.push(NO_NETWORK_LABEL);

    // Steps start from a small helper process (forkserver.ts), or where perl is missing from this
    // one. run() waits for it before the agent takes a job.
    // Where lanes can be (root, bubblewrap, perl, util-linux's unshare and nsenter), the
    // forkserver runs in a mount namespace of its own, so that the lanes' mounts go with it.
    const unshare = sandbox.lane ? findTool("unshare") : undefined;
    const nsenter = sandbox.lane ? findTool("nsenter") : undefined;
    const laneMounts = unshare && nsenter ? mountOptions() : [];
    const forkserver = startForkserver({
      dir: path.join(stateDir, "fifo"),
      path: opts.hostEnv.PATH,
      options: laneMounts,
      around:
        unshare && laneMounts.length > 0
          ? (perl) => ({ command: unshare, args: ["--mount", "--propagation", "slave", "--", ...perl] })
          : undefined,
      log: opts.log,
    });
    let chosen: Launcher = spawnLauncher;
    const launcher: Launcher = {
      get name() {
        return chosen.name;
      },
      get gatesItself() {
        return chosen.gatesItself;
      },
      launch: (spec) => chosen.launch(spec),
    };
    // Long-lived sandboxes per slot, set up once the forkserver is there (lanes.ts).
    let lanesNow: Lanes | undefined;
    const lanes: Lanes = {
      enter: async (slot, network, workspace) => lanesNow?.enter(slot, network, workspace),
      scrub: async (dir) => (await lanesNow?.scrub(dir)) === true,
      close: () => lanesNow?.close(),
    };
    const agent = createAgent({
      server: target.kind === "remote" ? target.server : () => readTrimmed(embedded!.serverUrl),
      token: target.kind === "remote" ? target.token : () => readTrimmed(embedded!.token),
      slots: opts.slots,
      labels,
      name: opts.name,
      workRoot,
      hostEnv: opts.hostEnv,
      groups,
      sandbox,
      launcher,
      lanes,
      noNetwork: opts.noNetwork,
      allowLocalClone: opts.allowLocalClone,
      containerRuntime: opts.containerRuntime,
      ranBefore: reaped.jobs,
      version: opts.version,
      log: opts.log,
      clock,
      runnerId,
      onRegistered: (id) => {
        if (id !== runnerId) writeRunnerId(idFile, id);
        fs.writeFileSync(holderFile, `${JSON.stringify({ pid: process.pid, runner_id: id, started })}\n`, {
          mode: 0o600,
        });
      },
    });
    return {
      agent,
      sandbox,
      async run() {
        // The embedded runner ends with its data dir (removed), and when no server has answered
        // for a long while and it has nothing left to deliver.
        const watch = embedded
          ? clock.setInterval(() => {
              const orphaned = agent.unreachableMs > ORPHAN_MS && agent.running === 0;
              if (!fs.existsSync(embedded.dir) || orphaned) {
                opts.log(orphaned ? "no server for a long while: exiting" : "the data dir is gone: exiting");
                agent.stop();
              }
            }, 2000)
          : undefined;
        try {
          const f = await forkserver;
          if (f) {
            chosen = f;
            opts.log("steps start from the forkserver (perl)");
            lanesNow =
              nsenter && laneMounts.length > 0
                ? await startLanes({
                    sandbox,
                    host: f,
                    dir: path.join(stateDir, "lanes"),
                    workRoot,
                    path: opts.hostEnv.PATH,
                    groups,
                    nsenter,
                    log: opts.log,
                  })
                : undefined;
            if (lanesNow)
              opts.log("sandboxes are made once per slot (lanes) and each job's workspace mounted in");
          }
          await agent.run();
        } finally {
          watch?.cancel();
          lanes.close();
          (await forkserver)?.close();
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** An embedded runner with no server to talk to and no job exits after this long. */
const ORPHAN_MS = 10 * 60_000;

export function defaultRunnerName(kind: "remote" | "embedded"): string {
  return kind === "embedded" ? `embedded@${os.hostname()}` : `${os.hostname()}-${process.pid}`;
}
