// What a runner keeps in its work dir across restarts: its identity (the runner id the server
// gave, so that a restarted agent is the same runner and not one more entry of
// /admin/v1/runners), and what a killed instance leaves there that a new one clears before it
// takes work (the job workspaces). Only the process holding the work dir's lock calls these.

import fs from "node:fs";
import path from "node:path";
import { ID_PATTERN } from "../pipeline/vocabulary.js";

const ID = new RegExp(ID_PATTERN);

/** The runner id kept in `file`; undefined when there is none (or it is not an id: it is ignored). */
export function readRunnerId(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
  return ID.test(text) ? text : undefined;
}

/** Keeps the runner id, written whole (a crash leaves the old file or the new one), 0600. */
export function writeRunnerId(file: string, runnerId: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${runnerId}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Beside the workspace of a job paused before a server step (a manual review, a delay): the job
 * goes on in it after the review, here, so a runner started meanwhile keeps it.
 */
export const pausedMarker = (workspace: string): string => `${workspace}.paused`;
/** Under the work root: emptied directories kept for later jobs (spare-dirs.ts). */
export const SPARE_DIR = ".spare";
const PAUSED = ".paused";
/** Beside a workspace: the git config of a sandboxed local clone. */
const BESIDE = [PAUSED, ".gitconfig"];

export interface Leftovers {
  /** Job workspaces removed (`<run>/<job>` directories). */
  readonly removed: number;
  /** Workspaces of paused jobs, kept. */
  readonly kept: number;
  /** Entries that could not be removed, with why. */
  readonly failed: readonly string[];
}

/**
 * Removes what is under the work root, where each job has `<run id>/<job run id>` (and files
 * beside it): at start no job runs here, so all of it was left by an instance that died, but for
 * the workspaces of paused jobs. A tree a step made read-only (Go's module cache does) is made
 * writable and removed.
 */
export function removeLeftovers(workRoot: string): Leftovers {
  let removed = 0;
  let kept = 0;
  const failed: string[] = [];
  const remove = (p: string): boolean => {
    try {
      removeTree(p);
      return true;
    } catch (err) {
      failed.push(`${p}: ${(err as Error).message}`);
      return false;
    }
  };
  for (const run of entries(workRoot)) {
    const dir = path.join(workRoot, run.name);
    if (!run.isDirectory() || run.name === SPARE_DIR) {
      remove(dir);
      continue;
    }
    const inRun = entries(dir);
    const paused = new Set(
      inRun.filter((e) => e.name.endsWith(PAUSED)).map((e) => e.name.slice(0, -PAUSED.length)),
    );
    for (const e of inRun) {
      const suffix = BESIDE.find((b) => e.name.endsWith(b));
      const job = suffix ? e.name.slice(0, -suffix.length) : e.name;
      if (paused.has(job)) {
        if (e.isDirectory()) kept++;
        continue;
      }
      if (remove(path.join(dir, e.name)) && e.isDirectory()) removed++;
    }
    try {
      fs.rmdirSync(dir);
    } catch {
      // a paused job's workspace is in it
    }
  }
  return { removed, kept, failed };
}

function entries(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function removeTree(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    makeWritable(p);
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Gives the owner write and search permission on every directory of the tree (not following links). */
function makeWritable(p: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  try {
    fs.chmodSync(p, (st.mode & 0o7777) | 0o700);
  } catch {
    // not ours: rm says so
  }
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(p);
  } catch {
    return;
  }
  for (const e of entries) makeWritable(path.join(p, e));
}
