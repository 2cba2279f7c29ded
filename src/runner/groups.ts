// The process groups of running steps, recorded on disk before a step's command runs (the step
// waits at a gate until its record is written), so that a runner killed with -9 finds and kills
// every one of them at its next start. One append-only journal, `<dir>/journal`: "+ pgid start job"
// when a group is recorded (start: the leader's start time, which tells our group from a later
// process that got the same id; job: `<job run id>/<attempt>` for a step, `lane <name>` for a
// lane's helper), "- pgid" when it is gone.

import fs from "node:fs";
import path from "node:path";

export interface StepGroups {
  /** Writes the record (synchronously: the step's command must not run before it is on disk). */
  record(pgid: number, jobRunId: string): void;
  /** The group is gone (the step ended and its group was killed). */
  forget(pgid: number): void;
  /**
   * Kills every recorded group that is still there (after a crash of the runner that recorded
   * them) and clears the records; answers how many groups were killed, and the jobs whose steps
   * were recorded since the journal was last rewritten (their user code ran: the server counts
   * them as lost, not as never received).
   */
  reapAll(): { readonly killed: number; readonly jobs: readonly { id: string; attempt: number }[] };
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

/** The journal is rewritten with only the live groups once it has this many lines. */
const COMPACT_LINES = 4096;

export function createStepGroups(dir: string): StepGroups {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const journal = path.join(dir, "journal");
  let fd: number | undefined;
  let lines = 0;
  /** The journal line of each group recorded and not forgotten. */
  const live = new Map<number, string>();
  // One write per record and per forget, in an append-only file: a file per group cost a create
  // and an unlink (directory changes) for every step. write() is enough: the records are for a
  // runner killed with -9, whose writes the page cache keeps.
  const append = (line: string): void => {
    fd ??= fs.openSync(journal, "a", 0o600);
    fs.writeSync(fd, line);
    lines++;
  };
  const compact = (): void => {
    const tmp = `${journal}.tmp`;
    fs.writeFileSync(tmp, [...live.values()].join(""), { mode: 0o600 });
    fs.renameSync(tmp, journal);
    if (fd !== undefined) fs.closeSync(fd);
    fd = undefined;
    lines = live.size;
  };
  return {
    record(pgid, jobRunId) {
      const line = `+ ${pgid} ${processStartTime(pgid) ?? "-"} ${jobRunId}\n`;
      append(line);
      live.set(pgid, line);
    },
    forget(pgid) {
      if (!live.delete(pgid)) return;
      append(`- ${pgid}\n`);
      if (lines > COMPACT_LINES) compact();
    },
    reapAll() {
      const recorded = new Map<number, GroupRecord>();
      /** `<job run id>/<attempt>` of each step recorded (a lane's helper is not a job's). */
      const started = new Set<string>();
      const stepOf = (job: string | undefined): void => {
        if (job && /^[0-9a-zA-Z]+\/[0-9]+$/.test(job)) started.add(job);
      };
      try {
        for (const line of fs.readFileSync(journal, "utf8").split("\n")) {
          const [op, id, start, ...rest] = line.split(" ");
          const job = rest.join(" ");
          const pgid = Number(id);
          if (op === "+") {
            recorded.set(pgid, { job: job ?? "", start: start === "-" ? null : (start ?? null) });
            stepOf(job);
          } else if (op === "-") recorded.delete(pgid);
        }
      } catch {
        // no journal: nothing recorded
      }
      // Records of earlier versions: a file per group, named by its id.
      for (const name of fs.readdirSync(dir)) {
        const pgid = Number(name);
        if (!Number.isInteger(pgid) || pgid <= 1) continue;
        try {
          const rec = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as GroupRecord;
          recorded.set(pgid, rec);
          stepOf(rec.job);
        } catch {
          recorded.set(pgid, { job: "", start: null });
        }
        fs.rmSync(path.join(dir, name), { force: true });
      }
      let killed = 0;
      for (const [pgid, rec] of recorded) {
        if (!(pgid > 1)) continue;
        // A live process with this id that started at another time is not our leader: Linux does
        // not hand out an id still used by a group, so our group was gone before it got the id.
        // With the leader gone and no such process, members of our group may be left: the id
        // cannot belong to anyone else's group while they live.
        const start = processStartTime(pgid);
        const ours = start === null || (rec.start != null && start === rec.start);
        if (ours && signalGroup(pgid, "SIGKILL")) killed++;
      }
      live.clear();
      compact();
      const jobs = [...started].map((s) => {
        const [id, attempt] = s.split("/");
        return { id: id!, attempt: Number(attempt) };
      });
      return { killed, jobs };
    },
  };
}
