// Operations mistakes and bad days, against the real `pipewright serve`: a second server on the
// same data dir, SIGTERM with jobs running (the API keeps serving while they drain, up to the
// drain timeout), and a disk that fills up under the server and is freed again.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  createPipelineVia,
  runDetail,
  type ServerProcess,
  serversPerTest,
  setupProject,
  shellPipeline,
  startRun,
  startServerProcess,
  stepLog,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const started = serversPerTest();

const exited = (s: ServerProcess): Promise<number | null> =>
  s.proc.exitCode !== null
    ? Promise.resolve(s.proc.exitCode)
    : new Promise((resolve) => s.proc.once("exit", (code) => resolve(code)));

describe("the data dir lock", () => {
  it("refuses a second server on the same data dir, saying who holds it; the first goes on", async () => {
    const dir = tempDir("pipewright-lock-");
    const first = await started({ dataDir: dir });
    const { projectId, api } = await setupProject(first.url);
    const pl = await createPipelineVia(api, projectId, { definition: shellPipeline("sleep 1; echo done") });
    const run = await startRun(api, projectId, pl);

    const second = startServerProcess({ dataDir: dir });
    await expect(second).rejects.toThrow(
      new RegExp(`data dir .* is in use by another Pipewright server \\(pid ${first.proc.pid} on `),
    );
    // The first server's job was not touched: it ends as it would have.
    const d = await waitForRun(api, projectId, pl, run);
    expect(d.status).toBe("COMPLETED");
    expect(first.output()).not.toContain("interrupted");

    // A server killed with -9 leaves no lock behind: the next one starts at once.
    await first.kill9();
    const next = await started({ dataDir: dir });
    expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
  });
});

describe("SIGTERM", () => {
  it("keeps the API serving while running jobs finish, then exits; queued work runs after a restart", async () => {
    const dir = tempDir("pipewright-drain-");
    const files = tempDir("pipewright-drain-files-");
    const server = await started({ dataDir: dir, args: ["--runner-slots", "1"] });
    const { projectId, api } = await setupProject(server.url);
    const gate = path.join(files, "go");
    const slow = await createPipelineVia(api, projectId, {
      definition: shellPipeline(`while [ ! -e ${gate} ]; do sleep 0.05; done; echo finished`),
    });
    const quick = await createPipelineVia(api, projectId, { definition: shellPipeline("echo later") });
    const running = await startRun(api, projectId, slow);
    await waitForRun(api, projectId, slow, running, ["RUNNING"]);

    server.proc.kill("SIGTERM");
    const health = await waitFor(async () => {
      const res = await fetch(`${server.url}/healthz`);
      return res.status === 503 ? res.json() : undefined;
    });
    expect(health).toEqual({ ok: false, status: "draining", running_jobs: 1 });
    // Reads, and new runs (accepted and queued: this server runs no new job now).
    expect((await runDetail(api, projectId, slow, running)).status).toBe("RUNNING");
    const queued = await startRun(api, projectId, quick);
    expect(["QUEUED", "RUNNING"]).toContain((await runDetail(api, projectId, quick, queued)).status);
    expect(server.proc.exitCode).toBeNull();

    fs.writeFileSync(gate, "");
    expect(await exited(server)).toBe(0);
    expect(server.output()).toContain("draining");

    const again = await started({ dataDir: dir });
    const done = await waitForRun(api.at(again.url), projectId, slow, running);
    expect(done.status).toBe("COMPLETED");
    const job = done.stages[0].jobs[0];
    expect(await stepLog(api.at(again.url), projectId, slow, running, job.id, job.steps[0].id)).toContain(
      "finished",
    );
    expect((await waitForRun(api.at(again.url), projectId, quick, queued)).status).toBe("COMPLETED");
  });

  it("stops jobs still running when the drain timeout passes", async () => {
    const dir = tempDir("pipewright-drain-timeout-");
    const server = await started({ dataDir: dir, args: ["--drain-timeout", "1"] });
    const { projectId, api } = await setupProject(server.url);
    const pl = await createPipelineVia(api, projectId, { definition: shellPipeline("sleep 120") });
    const run = await startRun(api, projectId, pl);
    await waitForRun(api, projectId, pl, run, ["RUNNING"]);
    server.proc.kill("SIGTERM");
    expect(await exited(server)).toBe(0);
    expect(server.output()).toContain("drain timeout passed");
    const again = await started({ dataDir: dir });
    const d = await waitForRun(api.at(again.url), projectId, pl, run);
    expect(d.status).toBe("FAILED");
    expect(d.stages[0].jobs[0].message).toContain("interrupted by server restart");
  });
});

/** A tmpfs of `size` at a new dir (root only); undefined where mounting is not allowed. */
function smallDisk(size: string): { dir: string; unmount(): void } | undefined {
  const dir = tempDir("pipewright-disk-");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  return { dir, unmount: () => execFileSync("umount", ["-l", dir], { stdio: "ignore" }) };
}

/** Fills the file system of `dir` until it has no room left; answers the filler file. */
function fill(dir: string): string {
  const file = path.join(dir, "filler");
  const fd = fs.openSync(file, "w");
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

const disk = smallDisk("24m");
describe.skipIf(!disk)("a full disk", () => {
  it("answers 503 DEVPIPE.00020507 and changes nothing, logs it sparingly, and recovers by itself", async () => {
    const d = disk!;
    try {
      const server = await started({ dataDir: path.join(d.dir, "data"), args: ["--log-level", "error"] });
      const { projectId, api } = await setupProject(server.url);
      const pl = await createPipelineVia(api, projectId, { definition: shellPipeline("echo before") });
      const before = await startRun(api, projectId, pl);
      await waitForRun(api, projectId, pl, before);
      const logBefore = server.output().length;
      // A job that writes its log all through the outage, and ends while the disk is full.
      const gate = path.join(tempDir("pipewright-disk-gate-"), "go");
      const chatty = await createPipelineVia(api, projectId, {
        definition: shellPipeline(
          `i=0; while [ ! -e ${gate} ]; do i=$((i+1)); echo "line $i"; sleep 0.02; done; echo "last $i"`,
        ),
      });
      const during = await startRun(api, projectId, chatty);
      // The step's script is written and running (its first lines are in) before the disk fills.
      const running = await waitForRun(api, projectId, chatty, during, ["RUNNING"]);
      const first = running.stages[0].jobs[0];
      await waitFor(
        async () =>
          (await stepLog(api, projectId, chatty, during, first.id, first.steps[0].id)).includes("line 2"),
        20_000,
        "the chatty step's first lines",
      );

      const filler = fill(d.dir);
      // Large enough that it cannot fit in what the WAL already holds.
      const big = { definition: shellPipeline(`echo ${"x".repeat(1_500_000)}`) };
      const refusals = [];
      for (let i = 0; i < 20; i++) {
        refusals.push(
          await api.post(`/v5/${projectId}/api/pipelines`, { name: `full_${i}`, is_publish: false, ...big }),
        );
      }
      for (const r of refusals) {
        expect(r.status, JSON.stringify(r.body)).toBe(503);
        expect(r.body.error_code).toBe("DEVPIPE.00020507");
        expect(r.body.error_msg).toContain("storage is full");
      }
      // Reads go on.
      expect((await runDetail(api, projectId, pl, before)).status).toBe("COMPLETED");
      const list = await api.post(`/v5/${projectId}/api/pipelines/list`, {});
      expect(list.body.pipelines.map((p: { name: string }) => p.name)).not.toContain("full_0");
      // Twenty refusals, a line or two; and no "cannot rollback".
      const logged = server.output().slice(logBefore);
      expect(logged).not.toContain("cannot rollback");
      expect(logged.split("\n").filter((l) => l.includes("request failed")).length).toBeLessThanOrEqual(2);

      fs.writeFileSync(gate, "");
      await new Promise((r) => setTimeout(r, 1500)); // the job's end meets the full disk
      fs.rmSync(filler);
      // The job's end and every line of its log were kept and written once there was room.
      const ended = await waitForRun(api, projectId, chatty, during);
      const job = ended.stages[0].jobs[0];
      expect(ended.status, JSON.stringify(job)).toBe("COMPLETED");
      const lines = (await stepLog(api, projectId, chatty, during, job.id, job.steps[0].id))
        .trim()
        .split("\n");
      const n = Number(lines.at(-1)!.replace("last ", ""));
      expect(lines).toEqual([...Array.from({ length: n }, (_, i) => `line ${i + 1}`), `last ${n}`]);
      const after = await api.post(`/v5/${projectId}/api/pipelines`, {
        name: "after",
        is_publish: false,
        ...big,
      });
      expect(after.status, JSON.stringify(after.body)).toBe(200);
      const run = await startRun(api, projectId, pl);
      expect((await waitForRun(api, projectId, pl, run)).status).toBe("COMPLETED");
    } finally {
      await started.killAll();
      d.unmount();
    }
  });
});
