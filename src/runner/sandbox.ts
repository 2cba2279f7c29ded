// Where a step's processes run: with bubblewrap, in a sandbox that sees the machine's file system
// read-only, not the runner's own directories (the server's data dir with its database, tokens
// and keys; other jobs' workspaces), a private /tmp, its own workspace writable, its own process
// and IPC namespaces, no network when the job asks for none, at most `nproc` processes of its
// user, and, when the runner is root, an unprivileged user of its own per slot. Without
// bubblewrap steps run as the runner's user on its file system (the runner says so at start).
// A root runner makes such a sandbox once per slot and reuses it for every step (lanes.ts);
// otherwise each step gets one of its own.

import { execFileSync } from "node:child_process";
import fs from "node:fs";

/** A job asking for this label runs without network; runners offer it only with a sandbox. */
export const NO_NETWORK_LABEL = "no-network";

/** Slot users get ids from here up (no account exists for them: they own only workspaces). */
export const SLOT_UID_BASE = 61000;

export interface SandboxSpec {
  readonly workspace: string;
  readonly network: boolean;
  /** The slot the job runs in (0-based): its user when the runner is root. */
  readonly slot: number;
  /** Runner-made files the step may read (bound read-only at their own paths). */
  readonly readOnly?: readonly string[] | undefined;
  /** The command sets the process limit itself (a bash step's start-up file): no prlimit. */
  readonly limitsItself?: boolean | undefined;
  /**
   * The command starts in the job's lane (lanes.ts): a sandbox already, whose helper makes it
   * the slot's user. Only the process limit is left to set.
   */
  readonly lane?: boolean | undefined;
}

/** A lane: one slot's long-lived sandbox, into which each job's workspace is mounted. */
export interface LaneSpec {
  readonly slot: number;
  readonly network: boolean;
  /** Shown at the runner's work root inside (its jobs' workspaces get mounted under it). */
  readonly mounts: string;
  readonly workRoot: string;
  /** The helper's FIFO dir, shown at LANE_FIFO_DIR. */
  readonly fifoDir: string;
}

/** Where a lane's helper finds its FIFO dir (on the sandbox's own /dev: no path of the host's). */
export const LANE_FIFO_DIR = "/dev/pipewright-fifo";

export interface Sandbox {
  readonly kind: "bubblewrap" | "none";
  /** The user and group steps of a slot run as; undefined: the runner's own. */
  userOf(slot: number): { readonly uid: number; readonly gid: number } | undefined;
  /** The command line that runs `command args` inside the sandbox. */
  wrap(command: string, args: readonly string[], spec: SandboxSpec): { command: string; args: string[] };
  /** Whether jobs can run with network off. */
  readonly canCutNetwork: boolean;
  /** Processes a job's user may have at once (RLIMIT_NPROC); undefined: no limit set. */
  readonly nproc: number | undefined;
  /**
   * The command line of a lane's sandbox around `helper` (run as root with the capabilities to
   * become the slot's user and to kill); undefined where lanes cannot be (not root).
   */
  readonly lane?:
    | ((spec: LaneSpec, helper: readonly string[]) => { command: string; args: string[] })
    | undefined;
}

export interface SandboxOptions {
  /** Directories steps must not see (the data dir, the runner's work and state dirs). */
  readonly hidden: readonly string[];
  /** Processes a job's user may have at once (RLIMIT_NPROC). */
  readonly nproc: number;
  /** The bwrap binary; found on PATH when undefined. */
  readonly bwrap?: string | undefined;
}

export const NO_SANDBOX: Sandbox = {
  kind: "none",
  userOf: () => undefined,
  wrap: (command, args) => ({ command, args: [...args] }),
  canCutNetwork: false,
  nproc: undefined,
};

/** The bwrap binary if present and able to make a sandbox here (containers may forbid it). */
export function findBubblewrap(pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? "/usr/bin:/bin").split(":")) {
    const candidate = `${dir}/bwrap`;
    if (!fs.existsSync(candidate)) continue;
    try {
      execFileSync(candidate, ["--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--", "true"], {
        stdio: "ignore",
        timeout: 5000,
      });
      return candidate;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function findTool(name: string): string | undefined {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

export function createBubblewrapSandbox(bwrap: string, opts: SandboxOptions): Sandbox {
  const root = process.getuid?.() === 0;
  const setpriv = findTool("setpriv");
  const prlimit = findTool("prlimit");
  const switchUsers = root && setpriv !== undefined;
  const userOf = (slot: number) =>
    switchUsers ? { uid: SLOT_UID_BASE + slot, gid: SLOT_UID_BASE + slot } : undefined;
  /** The machine read-only, a private /dev, /dev/shm, /proc, /tmp and IPC, the hidden dirs empty. */
  const base = (): string[] => {
    const out = [
      "--die-with-parent",
      "--ro-bind",
      "/",
      "/",
      "--dev",
      "/dev",
      "--unshare-pid",
      "--unshare-ipc",
      "--proc",
      "/proc",
      "--perms",
      "1777",
      "--tmpfs",
      "/tmp",
      // POSIX shared memory (Python's multiprocessing, browsers) needs a writable /dev/shm.
      "--perms",
      "1777",
      "--tmpfs",
      "/dev/shm",
    ];
    for (const dir of opts.hidden) out.push("--tmpfs", dir);
    return out;
  };
  /**
   * Binds `source` at `target`; a target's parents inside a hidden dir are made traversable
   * (bwrap would copy their 0700).
   */
  const bind = (out: string[], source: string, target: string): void => {
    const inside = opts.hidden.find((d) => target.startsWith(`${d}/`));
    if (inside) {
      const parts = target
        .slice(inside.length + 1)
        .split("/")
        .slice(0, -1);
      let at = inside;
      for (const part of parts) {
        at = `${at}/${part}`;
        out.push("--perms", "0755", "--dir", at);
      }
    }
    out.push("--bind", source, target);
  };
  const limited = (command: string, args: readonly string[], spec: SandboxSpec): string[] =>
    prlimit && !spec.limitsItself
      ? [prlimit, `--nproc=${opts.nproc}:${opts.nproc}`, "--", command, ...args]
      : [command, ...args];
  return {
    kind: "bubblewrap",
    canCutNetwork: true,
    nproc: prlimit ? opts.nproc : undefined,
    userOf,
    wrap(command, args, spec) {
      if (spec.lane) {
        const [first, ...rest] = limited(command, args, spec);
        return { command: first!, args: rest };
      }
      const out = base();
      bind(out, spec.workspace, spec.workspace);
      for (const p of spec.readOnly ?? []) out.push("--ro-bind", p, p);
      out.push("--chdir", spec.workspace);
      if (!spec.network) out.push("--unshare-net");
      out.push("--");
      const user = userOf(spec.slot);
      if (user && setpriv) {
        out.push(setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--");
      }
      out.push(...limited(command, args, spec));
      return { command: bwrap, args: out };
    },
    lane: switchUsers
      ? (spec, helper) => {
          const out = base();
          // /dev/mqueue, so that the helper can clear the message queues a job left.
          out.push("--mqueue", "/dev/mqueue");
          bind(out, spec.mounts, spec.workRoot);
          out.push("--bind", spec.fifoDir, LANE_FIFO_DIR);
          if (!spec.network) out.push("--unshare-net");
          for (const cap of ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"]) out.push("--cap-add", cap);
          out.push("--chdir", "/", "--", ...helper);
          return { command: bwrap, args: out };
        }
      : undefined,
  };
}
