// Crash durability: a server killed with SIGKILL in the middle of its work, restarted on the same
// data dir. Nothing acknowledged is lost, a running job goes on in the runner process (adopted by
// the new server), and nothing stays RUNNING that should not.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Answer,
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  processGroupGone,
  runDetail,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
  stepLog,
  TERMINAL,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

type Detail = Answer["body"];

interface JobNode {
  id: string;
  identifier: string;
  status: string;
  message: string | null;
  steps: { id: string; status: string; review_deadline: number | null }[];
}
const jobsOf = (d: Detail): JobNode[] => (d.stages as { jobs: JobNode[] }[]).flatMap((s) => s.jobs);
/** Everything a run's state consists of, without the server clock. */
const stateOf = (d: Detail): unknown => ({ ...d, current_system_time: 0, pause_time: 0 });

interface Quick {
  pl: string;
  run: string;
  detail: Detail;
  logs: string[];
}

describe("a server killed with SIGKILL and restarted on the same data dir", () => {
  const dataDir = tempDir("pipewright-crash-");
  /** Files the scripts write outside their workspaces. */
  const dir = tempDir("pipewright-crash-files-");
  const args = ["--runner-slots", "1"];
  let crashed: ServerProcess;
  let server: ServerProcess;
  let token: string;
  let pid: string;
  let api: Client;

  // What was there before the crash.
  const quick: Quick[] = [];
  let long: { pl: string; run: string; pgid: number };
  let queued: { pl: string; run: string }[] = [];
  let canceledQueued: { pl: string; run: string };
  let review: { pl: string; run: string; before: Detail };

  const startRun = async (pl: string): Promise<string> => {
    const res = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
    if (res.status !== 200) throw new Error(`run: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.pipeline_run_id;
  };
  const pipeline = (def: string): Promise<string> =>
    createPipelineVia(api, pid, {
      definition: def,
      variables: [{ name: "DIR", value: dir, type: "string" }],
    });
  const logsOf = async (pl: string, d: Detail): Promise<string[]> => {
    const out: string[] = [];
    for (const j of jobsOf(d))
      for (const s of j.steps) out.push(await stepLog(api, pid, pl, d.id, j.id, s.id));
    return out;
  };

  beforeAll(async () => {
    crashed = await startServerProcess({ dataDir, args });
    const admin = client(crashed.url, E2E_ADMIN_TOKEN);
    const p = await admin.post("/admin/v1/projects", { name: "crash" });
    pid = p.body.project_id;
    const t = await admin.post("/admin/v1/tokens", { name: "crash", role: "admin", project_ids: [pid] });
    token = t.body.token;
    api = client(crashed.url, token);

    // (b) runs that completed, with their logs.
    for (let i = 0; i < 3; i++) {
      const pl = await pipeline(
        definition([
          {
            identifier: "build",
            jobs: [
              {
                identifier: "job",
                steps: [{ script: `echo quick-${i}\necho err-${i} >&2` }, { script: "seq 1 50" }],
              },
            ],
          },
        ]),
      );
      const run = await startRun(pl);
      const detail = await waitForRun(api, pid, pl, run);
      expect(detail.status).toBe("COMPLETED");
      quick.push({ pl, run, detail, logs: await logsOf(pl, detail) });
    }
    expect(quick[0]!.logs[1]!.split("\n")).toHaveLength(51);

    // (d) a run waiting for a manual review; it needs no runner slot until it is passed.
    {
      const pl = await pipeline(
        definition([
          {
            identifier: "gate",
            jobs: [
              {
                identifier: "approve",
                steps: [
                  {
                    task: "official_devcloud_checkpoint",
                    inputs: [
                      { key: "timeout", value: 3600 },
                      { key: "timeout_strategy", value: "reject" },
                    ],
                  },
                  { script: `echo reviewed\ntouch "$DIR/review.after"` },
                ],
              },
            ],
          },
          { identifier: "ship", jobs: [{ identifier: "deploy", steps: [{ script: "echo shipped" }] }] },
        ]),
      );
      const run = await startRun(pl);
      review = { pl, run, before: await waitForRun(api, pid, pl, run, ["PAUSED"]) };
    }

    // (a) a run in the middle of its job; it holds the only runner slot.
    {
      const pl = await pipeline(shellPipeline(`echo $$ > "$DIR/long.pgid"\necho long-started\nsleep 1000`));
      const run = await startRun(pl);
      const d = await waitForRun(api, pid, pl, run, ["RUNNING"]);
      const j = jobsOf(d)[0]!;
      await waitFor(
        async () => (await stepLog(api, pid, pl, run, j.id, j.steps[0]!.id)) === "long-started\n",
      );
      const text = fs.readFileSync(path.join(dir, "long.pgid"), "utf8").trim();
      long = { pl, run, pgid: Number(text) };
      expect(long.pgid).toBeGreaterThan(1);
    }

    // (c) runs queued behind (a) for runner capacity; one of them stopped while it waited.
    const ranBy = `echo "$PIPELINE_RUN_ID" >> "$DIR/queued.ran"\necho queued-done`;
    for (let i = 0; i < 4; i++) {
      const pl = await pipeline(shellPipeline(ranBy));
      const run = await startRun(pl);
      expect((await runDetail(api, pid, pl, run)).status).toBe("QUEUED");
      queued.push({ pl, run });
    }
    canceledQueued = queued[1]!;
    queued = queued.filter((q) => q !== canceledQueued);
    const stop = await api.post(
      `/v5/${pid}/api/pipelines/${canceledQueued.pl}/pipeline-runs/${canceledQueued.run}/stop`,
    );
    expect(stop.body).toEqual({ success: true });
    expect((await runDetail(api, pid, canceledQueued.pl, canceledQueued.run)).status).toBe("CANCELED");
    expect(fs.existsSync(path.join(dir, "queued.ran"))).toBe(false);

    await crashed.kill9();
    // The job's processes outlive their server, in its runner process.
    expect(processGroupGone(long.pgid)).toBe(false);

    server = await startServerProcess({ dataDir, args });
    api = client(server.url, token);
  });

  afterAll(async () => {
    await server?.stop();
    if (long && !processGroupGone(long.pgid)) process.kill(-long.pgid, "SIGKILL");
  });

  it("keeps the running job running, its log kept, and a stop ends it and its processes", async () => {
    const d = await runDetail(api, pid, long.pl, long.run);
    expect(d.status).toBe("RUNNING");
    const job = jobsOf(d)[0]!;
    expect(job.status).toBe("RUNNING");
    expect(await stepLog(api, pid, long.pl, long.run, job.id, job.steps[0]!.id)).toBe("long-started\n");
    expect(processGroupGone(long.pgid)).toBe(false);
    // The new server reaches the job's runner: the stop answers once its processes are gone.
    const stop = await api.post(`/v5/${pid}/api/pipelines/${long.pl}/pipeline-runs/${long.run}/stop`);
    expect(stop.body).toEqual({ success: true });
    await waitFor(async () => processGroupGone(long.pgid), 15_000, `process group ${long.pgid} to be gone`);
    const after = await waitForRun(api, pid, long.pl, long.run);
    expect(after.status).toBe("CANCELED");
    expect(server.output()).not.toContain("interrupted");
  });

  it("keeps the completed runs and their logs as they were", async () => {
    for (const q of quick) {
      const d = await runDetail(api, pid, q.pl, q.run);
      expect(stateOf(d)).toEqual(stateOf(q.detail));
      expect(await logsOf(q.pl, d)).toEqual(q.logs);
    }
  });

  it("runs the queued runs to completion, and not the one stopped before the crash", async () => {
    for (const q of queued) expect((await waitForRun(api, pid, q.pl, q.run)).status).toBe("COMPLETED");
    const ran = fs.readFileSync(path.join(dir, "queued.ran"), "utf8").trim().split("\n").sort();
    expect(ran).toEqual(queued.map((q) => q.run).sort());
    expect((await runDetail(api, pid, canceledQueued.pl, canceledQueued.run)).status).toBe("CANCELED");
  });

  it("keeps the review waiting, and it can still be passed and complete", async () => {
    const d = await runDetail(api, pid, review.pl, review.run);
    expect(d.status).toBe("PAUSED");
    const job = jobsOf(d).find((j) => j.identifier === "approve")!;
    expect(job.status).toBe("PAUSED");
    expect(job.steps[0]!.status).toBe("PAUSED");
    expect(job.steps[0]!.review_deadline).toBe(jobsOf(review.before)[0]!.steps[0]!.review_deadline);

    const pass = await api.post(
      `/v5/${pid}/api/pipelines/${review.pl}/pipeline-runs/${review.run}/jobs/${job.id}/steps/${job.steps[0]!.id}/pass`,
    );
    expect(pass.body).toEqual({ success: true });
    const done = await waitForRun(api, pid, review.pl, review.run);
    expect(done.status).toBe("COMPLETED");
    expect(jobsOf(done).map((j) => j.status)).toEqual(["COMPLETED", "COMPLETED"]);
    expect(fs.existsSync(path.join(dir, "review.after"))).toBe(true);
  });

  it("leaves no run RUNNING", async () => {
    const list = await api.post(`/v5/${pid}/api/pipelines/list`, { limit: 100 });
    expect(list.status).toBe(200);
    const ids: string[] = list.body.pipelines.map((p: { pipeline_id: string }) => p.pipeline_id);
    expect(ids).toHaveLength(quick.length + 2 + queued.length + 1);
    for (const pl of ids) {
      const runs = await api.post(`/v5/${pid}/api/pipelines/${pl}/pipeline-runs/list`, { limit: 100 });
      for (const r of runs.body.pipeline_runs as { status: string }[]) expect(TERMINAL).toContain(r.status);
    }
  });
});
