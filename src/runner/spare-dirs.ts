// Emptied job directories kept for later jobs. On ext4 a new directory costs the runner more
// than a short step's whole spawn once jobs come in waves: its inode allocator skips every inode
// freed in the last seconds (perf: recently_deleted under ext4_mkdir), so each job's mkdir of its
// run and workspace directories, and their rmdir at its end, grew with the rate of jobs. A
// rename of a kept directory allocates nothing.
//
// Only the runner's own directories go here, and only once nothing of a job can reach them: a
// run's directory (root's, never a step's), and a workspace of a job that ran in a lane (every
// process of the lane killed at its end, the workspace emptied and scrubbed: lanes.ts).

import fs from "node:fs";
import path from "node:path";

export interface SpareDirs {
  /**
   * Makes `dir` (its parent exists) from a kept directory: true when it is there now, false
   * when none was kept or the rename failed (`dir` exists and is not empty): then mkdir.
   */
  take(dir: string): boolean;
  /** Keeps `dir` if it is empty (it must be the runner's: root's, 0755); false: not kept. */
  keep(dir: string): boolean;
}

export function createSpareDirs(root: string, max: number): SpareDirs {
  const kept: string[] = [];
  let made = false;
  let n = 0;
  return {
    take(dir) {
      const spare = kept.pop();
      if (spare === undefined) return false;
      try {
        // Onto a missing name, or replacing an empty directory: either way `dir` is empty now.
        fs.renameSync(spare, dir);
        return true;
      } catch {
        kept.push(spare);
        return false;
      }
    },
    keep(dir) {
      if (kept.length >= max) return false;
      try {
        if (fs.readdirSync(dir).length > 0) return false;
        if (!made) {
          fs.mkdirSync(root, { recursive: true, mode: 0o700 });
          made = true;
        }
        const spare = path.join(root, String(n++));
        fs.renameSync(dir, spare);
        kept.push(spare);
        return true;
      } catch {
        return false;
      }
    },
  };
}
