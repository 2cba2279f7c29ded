// Sandbox lanes: one long-lived bubblewrap sandbox per slot (and network setting) instead of one
// per step. Making a sandbox costs more than the step it holds (a `bwrap --ro-bind / /` alone is
// over twice a bare `bash -c true`), so a lane is made once and each job's workspace is mounted
// into it: the runner, as root, bind-mounts the workspace under the lane's mount dir, a shared
// mount of which the lane's view of the work root is a slave, so the mount appears inside at the
// workspace's own path. Steps start from a helper inside the lane (the forkserver, as root with
// only the capabilities to become the slot's user and to kill), which is out of the steps' reach:
// another user, and no file of it is theirs.
//
// Between steps and jobs the helper clears the lane: every other process in it is killed (its pid
// namespace holds only the helper and the job's processes), then /tmp, /dev/shm, /dev/mqueue and
// System V IPC are emptied, so a job finds what a fresh sandbox has. A lane dies with its runner
// (--die-with-parent and its pid namespace); its group is recorded like a step's, for the next
// runner to reap. Where lanes cannot be (the runner is not root, perl or the mount system calls
// are missing) every step gets a sandbox of its own, as before.

import fs from "node:fs";
import path from "node:path";
import type { Forkserver } from "./forkserver.js";
import { startForkserver } from "./forkserver.js";
import type { StepGroups } from "./groups.js";
import type { Launcher } from "./process.js";
import { LANE_FIFO_DIR, type Sandbox } from "./sandbox.js";
import { RUNNER_DIR, type StepFilesDir } from "./shell.js";

/** The system call numbers the host forkserver needs for lanes, by process.arch. */
const SYSCALLS: Readonly<
  Record<string, { mount: number; umount2: number; llistxattr: number; lremovexattr: number }>
> = {
  x64: { mount: 165, umount2: 166, llistxattr: 195, lremovexattr: 198 },
  arm64: { mount: 40, umount2: 39, llistxattr: 12, lremovexattr: 15 },
};

/** The host forkserver's options for the mounts lanes need (none where lanes cannot be). */
export function mountOptions(): string[] {
  const calls = SYSCALLS[process.arch];
  return calls && process.getuid?.() === 0 ? Object.entries(calls).map(([k, v]) => `${k}=${v}`) : [];
}

/** A job's place in a lane, from its first step to its end. */
export interface Lane {
  /** Starts the job's steps in the lane. */
  readonly launcher: Launcher;
  /**
   * The lane's own directory for step scripts and outputs files: on the lanes' tmpfs, the slot
   * user's in a directory of root's (a step cannot swap it), seen in the lane at
   * `<work root>/.pipewright`, emptied when the job leaves.
   */
  readonly files: StepFilesDir;
  /** Clears the lane after a step (its processes, /tmp, IPC); false: it could not, the lane is gone. */
  reset(): Promise<boolean>;
  /**
   * Clears the lane and unmounts the workspace: the lane is free for the slot's next job. True
   * when both worked: no process of the job is left that could reach its workspace.
   */
  leave(): Promise<boolean>;
}

export interface Lanes {
  /** The job's lane, its workspace mounted in it; undefined: this job's steps get a sandbox each. */
  enter(slot: number, network: boolean, workspace: string): Promise<Lane | undefined>;
  /**
   * Strips an emptied workspace of what its job may have left on the directory itself
   * (extended attributes, owner, mode), so that it can serve another job: false, it cannot.
   */
  scrub(dir: string): Promise<boolean>;
  /** Ends every lane (the runner stops). */
  close(): void;
}

export interface LanesOptions {
  readonly sandbox: Sandbox;
  /** The runner's own forkserver (root): it makes the mounts. */
  readonly host: Forkserver;
  /** A directory of the runner's own, hidden from steps. */
  readonly dir: string;
  readonly workRoot: string;
  readonly path: string | undefined;
  readonly groups: StepGroups;
  /** util-linux's nsenter: a lane starts in the forkserver's mount namespace. */
  readonly nsenter: string;
  readonly log: (msg: string) => void;
}

interface Running {
  readonly forkserver: Forkserver;
  busy: boolean;
  ended: boolean;
  /** Made in the namespace of a forkserver that is gone: closed when its job leaves. */
  stale: boolean;
  /** The last job's mount point being removed (off the job's path: an rmdir there can wait). */
  cleanup: Promise<void>;
  readonly files: StepFilesDir;
}

/** Sets lanes up; undefined (said in the log) where they cannot be. */
export async function startLanes(opts: LanesOptions): Promise<Lanes | undefined> {
  const laneLine = opts.sandbox.lane;
  if (!laneLine || !SYSCALLS[process.arch]) return undefined;
  const dir = opts.dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Lanes of an earlier version kept their FIFO dirs beside the tmpfs, on disk.
  fs.rmSync(`${dir}-fifo`, { recursive: true, force: true });
  const lanes = new Map<string, Running>();
  let closed = false;
  /** Ends a lane the runner no longer uses (its record goes with it). */
  const retire = (name: string, lane: Running): void => {
    const pid = lane.forkserver.pid;
    lane.ended = true;
    lane.forkserver.close();
    if (pid) opts.groups.forget(pid);
    if (lanes.get(name) === lane) lanes.delete(name);
  };
  /** The forkserver whose mount namespace holds the shared dir (it runs in one of its own). */
  let hostPid: number | undefined;

  let preparing: Promise<boolean> | undefined;
  /**
   * Mounts a shared tmpfs at the dir in the forkserver's namespace (again, after it was
   * restarted): the lanes' mount points are made and removed there, off the disk's journal.
   */
  const prepare = (): Promise<boolean> => {
    const pid = opts.host.pid;
    if (pid === undefined) return Promise.resolve(false);
    if (pid === hostPid) return Promise.resolve(true);
    preparing ??= (async () => {
      // Lanes made in the namespace of a forkserver that is gone would never see a mount again:
      // idle ones go now, busy ones when their job leaves.
      for (const [name, lane] of lanes) {
        lane.stale = true;
        if (!lane.busy) retire(name, lane);
        lanes.delete(name);
      }
      const errno = await opts.host.request("S", dir);
      if (errno !== 0) {
        opts.log(
          `sandbox lanes are not available (mounting a shared tmpfs at ${dir} failed, errno ${errno}): a sandbox per step`,
        );
        return false;
      }
      hostPid = pid;
      return true;
    })().finally(() => {
      preparing = undefined;
    });
    return preparing;
  };
  if (!(await prepare())) return undefined;
  /** A path of the dir as the forkserver's namespace has it (the runner's own shows the disk). */
  const seen = (p: string): string => `/proc/${hostPid}/root${p}`;

  const start = async (slot: number, network: boolean): Promise<Running | undefined> => {
    const name = `${slot}${network ? "" : "-offline"}`;
    const laneDir = path.join(dir, name);
    const mounts = path.join(laneDir, "w");
    // The lane's FIFO dir is on the tmpfs too (three FIFOs per step): the lane binds it as the
    // namespace has it, the runner opens the FIFOs through /proc.
    const fifoDir = path.join(laneDir, "fifo");
    fs.rmSync(seen(fifoDir), { recursive: true, force: true });
    const user = opts.sandbox.userOf(slot);
    if (!user) return undefined;
    const files = seen(path.join(mounts, RUNNER_DIR));
    try {
      fs.mkdirSync(seen(mounts), { recursive: true, mode: 0o755 });
      // The slot user's, as a workspace's runner directory is; emptied when a job leaves.
      fs.mkdirSync(files, { recursive: true, mode: 0o700 });
      fs.chownSync(files, user.uid, user.gid);
    } catch (err) {
      opts.log(`could not make sandbox lane ${name} (${(err as Error).message}): a sandbox per step`);
      return undefined;
    }
    let running: Running | undefined;
    const forkserver = await startForkserver({
      dir: seen(fifoDir),
      helperDir: LANE_FIFO_DIR,
      path: opts.path,
      log: opts.log,
      options: [`uid=${user.uid}`, `gid=${user.gid}`, "lane=1"],
      lane: true,
      // Made in the runner's forkserver's mount namespace, where the workspaces get mounted.
      around: (helper) => {
        const line = laneLine({ slot, network, mounts, workRoot: opts.workRoot, fifoDir }, helper);
        return {
          command: opts.nsenter,
          args: [`--mount=/proc/${hostPid}/ns/mnt`, "--", line.command, ...line.args],
        };
      },
      onEnd: () => {
        if (running) running.ended = true;
        if (running && lanes.get(name) === running) lanes.delete(name);
        const pid = forkserver?.pid;
        if (pid) opts.groups.forget(pid);
      },
    });
    if (!forkserver) return undefined;
    // Recorded like a step's group: a runner killed with -9 takes its lanes along
    // (--die-with-parent), and the next one makes sure.
    if (forkserver.pid) opts.groups.record(forkserver.pid, `lane ${name}`);
    // A lane that cannot answer (bwrap refused its command line) serves no job.
    if ((await forkserver.request("k")) !== 0) {
      opts.log(`sandbox lane ${name} did not start: a sandbox per step`);
      forkserver.close();
      if (forkserver.pid) opts.groups.forget(forkserver.pid);
      return undefined;
    }
    running = {
      forkserver,
      busy: false,
      ended: false,
      stale: false,
      cleanup: Promise.resolve(),
      files: { path: files, seen: path.join(opts.workRoot, RUNNER_DIR), own: true },
    };
    lanes.set(name, running);
    return running;
  };

  return {
    async enter(slot, network, workspace) {
      if (closed || !(await prepare())) return undefined;
      const name = `${slot}${network ? "" : "-offline"}`;
      let lane = lanes.get(name);
      if (lane?.busy) return undefined;
      if (!lane || lane.ended) lane = await start(slot, network);
      if (!lane) return undefined;
      await lane.cleanup;
      const rel = path.relative(opts.workRoot, workspace);
      if (rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
      const target = path.join(dir, name, "w", rel);
      const targetSeen = seen(target);
      const topSeen = seen(path.join(dir, name, "w"));
      try {
        fs.mkdirSync(targetSeen, { recursive: true, mode: 0o755 });
      } catch (err) {
        opts.log(
          `could not make a mount point in sandbox lane ${name} (${(err as Error).message}): a sandbox per step`,
        );
        return undefined;
      }
      const errno = await opts.host.request("m", workspace, target);
      if (errno !== 0) {
        opts.log(
          `could not mount ${workspace} into sandbox lane ${name} (errno ${errno}): a sandbox per step`,
        );
        await removeUpTo(targetSeen, topSeen);
        return undefined;
      }
      const running = lane;
      running.busy = true;
      /** Nothing ran in the lane since it was last cleared. */
      let clear = true;
      const launcher: Launcher = {
        name: running.forkserver.name,
        gatesItself: running.forkserver.gatesItself,
        launch: (spec) => {
          clear = false;
          return running.forkserver.launch(spec);
        },
      };
      const reset = async (): Promise<boolean> => {
        if (running.ended) return false;
        if (clear) return true;
        clear = true;
        if ((await running.forkserver.request("k")) === 0) return true;
        // A lane that cannot be cleared is not used again.
        retire(name, running);
        return false;
      };
      return {
        launcher,
        files: running.files,
        reset,
        async leave() {
          const cleared = await reset();
          // What a step left there is not the slot's next job's to see.
          emptyDir(running.files.path);
          const unmounted = (await opts.host.request("u", target)) === 0;
          running.cleanup = removeUpTo(targetSeen, topSeen);
          running.busy = false;
          if (running.stale) retire(name, running);
          return cleared && unmounted;
        },
      };
    },
    async scrub(dir) {
      return !closed && (await opts.host.request("c", dir)) === 0;
    },
    close() {
      closed = true;
      for (const [name, lane] of lanes) retire(name, lane);
    },
  };
}

/** Removes what is in `dir` (usually nothing: a step's files go when it ends). */
function emptyDir(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

/** Removes the empty directories from `p` up to (not including) `top`. */
async function removeUpTo(p: string, top: string): Promise<void> {
  for (let at = p; at.startsWith(`${top}/`); at = path.dirname(at)) {
    try {
      await fs.promises.rmdir(at);
    } catch {
      return;
    }
  }
}
