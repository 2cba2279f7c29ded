// The process groups of running steps, recorded on disk before a step's command runs (the step
// waits at a gate until its record is written), so that a runner killed with -9 finds and kills
// every one of them at its next start. One file per group: `<dir>/<pgid>` holding the job and the
// leader's start time, which tells our group from a later process that got the same id.

import fs from "node:fs";
import path from "node:path";

export interface StepGroups {
  /** Writes the record (synchronously: the step's command must not run before it is on disk). */
  record(pgid: number, jobRunId: string): void;
  /** The group is gone (the step ended and its group was killed). */
  forget(pgid: number): void;
  /**
   * Kills every recorded group that is still there (after a crash of the runner that recorded
   * them) and clears the records; answers how many groups were killed.
   */
  reapAll(): number;
}

interface GroupRecord {
  readonly job: string;
  /** Field 22 of /proc/<pid>/stat: the leader's start time in clock ticks since boot. */
  readonly start: string | null;
}

/** The start time of a process, or null when there is no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function createStepGroups(dir: string): StepGroups {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (pgid: number): string => path.join(dir, String(pgid));
  return {
    record(pgid, jobRunId) {
      const rec: GroupRecord = { job: jobRunId, start: processStartTime(pgid) };
      fs.writeFileSync(file(pgid), JSON.stringify(rec), { mode: 0o600 });
    },
    forget(pgid) {
      fs.rmSync(file(pgid), { force: true });
    },
    reapAll() {
      let killed = 0;
      for (const name of fs.readdirSync(dir)) {
        const pgid = Number(name);
        if (!Number.isInteger(pgid) || pgid <= 1) continue;
        let rec: GroupRecord | undefined;
        try {
          rec = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as GroupRecord;
        } catch {
          rec = undefined;
        }
        // A live process with this id that started at another time is not our leader: Linux does
        // not hand out an id still used by a group, so our group was gone before it got the id.
        // With the leader gone and no such process, members of our group may be left: the id
        // cannot belong to anyone else's group while they live.
        const start = processStartTime(pgid);
        const ours = start === null || (rec?.start != null && start === rec.start);
        if (ours && signalGroup(pgid, "SIGKILL")) killed++;
        fs.rmSync(path.join(dir, name), { force: true });
      }
      return killed;
    },
  };
}
