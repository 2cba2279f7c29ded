import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createStepGroups, processStartTime } from "./groups.js";
import { isProcessGroupAlive } from "./process.js";

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.pid && isProcessGroupAlive(c.pid)) process.kill(-c.pid, "SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "pipewright-groups-"));
  dirs.push(d);
  return d;
};

/** A process group of its own (a leader and a child), like a step's. */
function group(): number {
  const c = spawn("bash", ["-c", "sleep 1000 & sleep 1000"], { detached: true, stdio: "ignore" });
  children.push(c);
  return c.pid!;
}

async function gone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 200 && isProcessGroupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 20));
  return !isProcessGroupAlive(pgid);
}

describe("step groups", () => {
  it("a runner's next start kills the groups it recorded and did not forget, and only those", async () => {
    const dir = tempDir();
    const before = createStepGroups(dir);
    const [kept, forgotten] = [group(), group()];
    before.record(kept, "joba/1");
    before.record(forgotten, "jobb/2");
    before.forget(forgotten);
    // The runner dies here; the next one reaps.
    // Both jobs ran user code (the forgotten group's step ended): both are named.
    const reaped = createStepGroups(dir).reapAll();
    expect(reaped.killed).toBe(1);
    expect(reaped.jobs).toEqual([
      { id: "joba", attempt: 1 },
      { id: "jobb", attempt: 2 },
    ]);
    expect(await gone(kept)).toBe(true);
    expect(isProcessGroupAlive(forgotten)).toBe(true);
    process.kill(-forgotten, "SIGKILL");
    // Reaped once: a third start finds nothing.
    expect(createStepGroups(dir).reapAll()).toEqual({ killed: 0, jobs: [] });
  });

  it("leaves a process alone that got a recorded id after the group was gone", () => {
    const dir = tempDir();
    const other = group();
    // A record of the same id from a leader that started at another time.
    writeFileSync(join(dir, "journal"), `+ ${other} 1 job-old\n`);
    expect(processStartTime(other)).not.toBe("1");
    expect(createStepGroups(dir).reapAll().killed).toBe(0);
    expect(isProcessGroupAlive(other)).toBe(true);
    process.kill(-other, "SIGKILL");
  });

  it("keeps live records when it compacts its journal, and reads the records of earlier versions", async () => {
    const dir = tempDir();
    const groups = createStepGroups(dir);
    const live = group();
    groups.record(live, "joblive/1");
    groups.record(100_000_000 - 1, "lane slot-0");
    // Many steps come and go: the journal is rewritten along the way.
    for (let i = 0; i < 5000; i++) {
      groups.record(100_000_000 + i, "job-x");
      groups.forget(100_000_000 + i);
    }
    expect(readFileSync(join(dir, "journal"), "utf8").split("\n").length).toBeLessThan(5000);
    const legacy = group();
    writeFileSync(
      join(dir, String(legacy)),
      JSON.stringify({ job: "joblegacy", start: processStartTime(legacy) }),
    );
    const reaped = createStepGroups(dir).reapAll();
    expect(reaped.killed).toBe(2);
    // A lane's helper and a record without an attempt (an earlier version's) name no job.
    expect(reaped.jobs).toEqual([{ id: "joblive", attempt: 1 }]);
    expect(await gone(live)).toBe(true);
    expect(await gone(legacy)).toBe(true);
  });
});
