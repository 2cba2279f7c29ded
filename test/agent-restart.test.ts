// A runner agent killed (kill -9) and started again on its work dir, on PostgreSQL: it is the
// same runner (one entry of /admin/v1/runners, the id its work dir kept), it kills the step its
// predecessor left and removes that one's workspace before it takes work, and the server ends
// the dead process's lease at once, so the job runs again once and the run completes. The lease
// here is ten minutes: only that, not its running out, can bring the job back within the test.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  POSTGRES_BIN,
  POSTGRES_SKIP_REASON,
  type PostgresCluster,
  startPostgres,
} from "./helpers/postgres.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  processGroupGone,
  type RunnerProcess,
  runDetail,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startRun,
  startRunnerProcess,
  startServerProcess,
  stepLog,
  TERMINAL,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

interface RunnerEntry {
  id: string;
  name: string;
  credential_id: string;
  online: boolean;
  last_seen: number;
}

describe.skipIf(!POSTGRES_BIN)(
  `a runner agent restarted on its work dir${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let server: ServerProcess;
    let admin: Client;
    let api: Client;
    let pid: string;
    let runnerToken: string;
    const agents: RunnerProcess[] = [];
    const dir = tempDir("pipewright-restart-");
    const start = (opts: Parameters<typeof startRunnerProcess>[0]): RunnerProcess => {
      const a = startRunnerProcess(opts);
      agents.push(a);
      return a;
    };
    const runners = async (): Promise<RunnerEntry[]> => (await admin.get("/admin/v1/runners")).body.runners;
    const issueRunnerToken = async (name: string): Promise<string> => {
      const t = await admin.post("/admin/v1/tokens", { name, role: "runner", project_ids: [] });
      expect(t.status).toBe(200);
      return t.body.token;
    };

    beforeAll(async () => {
      cluster = await startPostgres();
      const url = await cluster.createDatabase();
      server = await startServerProcess({
        args: ["--no-local-runner", "--lease-seconds", "600"],
        env: { DATABASE_URL: url },
      });
      admin = client(server.url, E2E_ADMIN_TOKEN);
      runnerToken = await issueRunnerToken("agents");
      ({ projectId: pid, api } = await setupProject(server.url));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(agents.map((a) => a.kill9()));
      await server?.kill9();
      cluster?.stop();
    });

    it("is the same runner, kills and removes what the killed one left, and its job runs again once", async () => {
      const workDir = tempDir("pipewright-agent-");
      const first = start({ server: server.url, token: runnerToken, slots: 2, name: "restarted", workDir });
      const entry = await waitFor(
        async () => (await runners()).find((r) => r.name === "restarted" && r.online),
        20_000,
        "the agent registered",
      );
      const idFile = path.join(workDir, "runner-id");
      await waitFor(async () => fs.existsSync(idFile), 10_000, "the runner id kept in the work dir");
      expect(fs.readFileSync(idFile, "utf8").trim()).toBe(entry.id);
      expect(fs.statSync(idFile).mode & 0o777).toBe(0o600);

      // A second agent on the same work dir refuses to start, and registers nothing.
      const intruder = start({ server: server.url, token: runnerToken, name: "intruder", workDir });
      expect(await intruder.exited).toBe(3);
      expect(intruder.output()).toContain(`pid ${first.proc.pid}`);
      expect(intruder.output()).toContain("one runner per work dir");

      const marks = path.join(dir, "marks");
      const pgidFile = path.join(dir, "step.pgid");
      const found = path.join(dir, "found");
      // The first attempt leaves a file in its workspace and waits; the second (its job dispatched
      // again) says whether it found that file, and ends.
      const script = [
        `echo "attempt $$" >> ${marks}`,
        `if [ "$(wc -l < ${marks})" -eq 1 ]; then touch leftover; echo $$ > ${pgidFile}; sleep 1000; fi`,
        `if [ -e leftover ]; then echo yes > ${found}; else echo no > ${found}; fi`,
      ].join("\n");
      const pl = await createPipelineVia(api, pid, { name: "restart", definition: shellPipeline(script) });
      const run = await startRun(api, pid, pl);
      await waitFor(
        async () => fs.existsSync(pgidFile) && fs.readFileSync(pgidFile, "utf8").trim() !== "",
        30_000,
        "the first attempt's step to wait",
      );
      const pgid = Number(fs.readFileSync(pgidFile, "utf8").trim());
      const job = (await runDetail(api, pid, pl, run)).stages[0].jobs[0];
      const workspace = path.join(workDir, "work", run, job.id);
      expect(fs.existsSync(path.join(workspace, "leftover"))).toBe(true);

      await first.kill9();
      // Unsandboxed, the step outlives its agent; its lease (ten minutes) holds the job meanwhile.
      expect(processGroupGone(pgid)).toBe(false);
      expect((await runDetail(api, pid, pl, run)).stages[0].jobs[0].status).toBe("RUNNING");

      const again = start({ server: server.url, token: runnerToken, slots: 2, name: "restarted", workDir });
      const d = await waitForRun(api, pid, pl, run, TERMINAL, 60_000);
      expect(d.status, JSON.stringify(d.stages[0].jobs[0])).toBe("COMPLETED");
      const done = d.stages[0].jobs[0];
      // Dispatched again once: its second attempt ran it.
      expect(done.last_dispatch_id).toBe(`${job.id}-2`);
      // The step's side effect: the first attempt's, cut, and the second's.
      expect(fs.readFileSync(marks, "utf8").trim().split("\n")).toHaveLength(2);
      // The second attempt ran in a new workspace, not in what the first left.
      expect(fs.readFileSync(found, "utf8").trim()).toBe("no");
      expect(processGroupGone(pgid)).toBe(true);
      for (const stage of d.stages) {
        expect(TERMINAL).toContain(stage.status);
        for (const j of stage.jobs) {
          expect(TERMINAL).toContain(j.status);
          for (const s of j.steps) expect(TERMINAL).toContain(s.status);
        }
      }
      const out = again.output();
      expect(out).toContain("killed 1 step process group(s) left by a runner that died");
      expect(out).toContain("removed 1 job workspace(s) left by a runner that died");
      expect(out).toContain("the previous process of this runner held 1 job(s)");
      // Its own job's directory goes when the job ends: nothing is left under the work root.
      await waitFor(
        async () => fs.readdirSync(path.join(workDir, "work")).length === 0,
        10_000,
        "the work root to be empty",
      );

      // One entry for the agent, the same as before, online; the intruder never registered.
      const list = await runners();
      expect(list.map((r) => r.name)).toEqual(["restarted"]);
      expect(list[0]).toMatchObject({ id: entry.id, online: true });
      expect(again.proc.exitCode).toBeNull();
      expect(server.proc.exitCode).toBeNull();

      await again.stop();
      expect(await again.exited).toBe(0);
    }, 180_000);

    it("given a new token, an agent whose work dir kept another credential's runner id registers as a new runner", async () => {
      const workDir = tempDir("pipewright-agent-");
      const old = start({ server: server.url, token: runnerToken, name: "rekeyed", workDir });
      const before = await waitFor(
        async () => (await runners()).find((r) => r.name === "rekeyed"),
        20_000,
        "the agent registered",
      );
      await old.stop();
      const newToken = await issueRunnerToken("replaced");
      const next = start({ server: server.url, token: newToken, name: "rekeyed", workDir });
      const after = await waitFor(
        async () => (await runners()).find((r) => r.name === "rekeyed" && r.id !== before.id),
        20_000,
        "the agent registered as a new runner",
      );
      expect(after.credential_id).not.toBe(before.credential_id);
      expect(next.output()).toContain(`runner ${before.id} belongs to another credential`);
      await waitFor(
        async () => fs.readFileSync(path.join(workDir, "runner-id"), "utf8").trim() === after.id,
        10_000,
        "the new runner id kept",
      );
      // It takes work as that runner.
      const pl = await createPipelineVia(api, pid, { name: "rekeyed", definition: shellPipeline("true") });
      const r2 = await startRun(api, pid, pl);
      const d = await waitForRun(api, pid, pl, r2, TERMINAL, 60_000).catch(async (err) => {
        // What the agent and the server said, for a failure hard to see again.
        throw new Error(`${(err as Error).message}\nagent:\n${next.output()}\nserver:\n${server.output()}`);
      });
      expect(d.status).toBe("COMPLETED");
      await next.stop();
    }, 120_000);

    it("keeps the workspace of a job paused before a review: after a restart the job goes on in it", async () => {
      const workDir = tempDir("pipewright-agent-");
      const first = start({ server: server.url, token: runnerToken, name: "reviewed", workDir });
      const pl = await createPipelineVia(api, pid, {
        name: "reviewed",
        definition: definition([
          {
            identifier: "build",
            jobs: [
              {
                identifier: "job",
                steps: [
                  { script: "echo built > made.txt" },
                  {
                    task: "official_devcloud_checkpoint",
                    inputs: [
                      { key: "timeout", value: 3600 },
                      { key: "timeout_strategy", value: "reject" },
                    ],
                  },
                  { script: "cat made.txt" },
                ],
              },
            ],
          },
        ]),
      });
      const run = await startRun(api, pid, pl);
      const paused = await waitForRun(api, pid, pl, run, ["PAUSED"], 60_000);
      const job = paused.stages[0].jobs[0];
      await first.kill9();
      const again = start({ server: server.url, token: runnerToken, name: "reviewed", workDir });
      await waitFor(
        async () => again.output().includes("registered with") || undefined,
        20_000,
        "the agent registered again",
      );
      expect(again.output()).toContain("kept 1 workspace(s) of jobs paused before a review or delay");
      expect(again.output()).not.toContain("removed");
      const pass = await api.post(
        `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${run}/jobs/${job.id}/steps/${job.steps[1].id}/pass`,
      );
      expect(pass.body).toEqual({ success: true });
      const d = await waitForRun(api, pid, pl, run, TERMINAL, 60_000);
      expect(d.status).toBe("COMPLETED");
      const last = d.stages[0].jobs[0].steps[2];
      expect(await stepLog(api, pid, pl, run, job.id, last.id)).toContain("built");
      await waitFor(
        async () => fs.readdirSync(path.join(workDir, "work")).length === 0,
        10_000,
        "the workspace removed with the job's end",
      );
      await again.stop();
    }, 120_000);
  },
);

// Issue 18 item 4: a job counts as confirmed by its runner from its first step's start, not only
// from a heartbeat. Heartbeats here come every 20 minutes (a third of the hour's lease), so only
// the step's start can confirm the job: an agent killed after starting a step loses the job
// (counted), and the second loss fails it. Counted as "never confirmed" instead, the job would
// go back to the queue without limit.
describe.skipIf(!POSTGRES_BIN)(
  `an agent that dies before its first heartbeat${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let server: ServerProcess;
    let api: Client;
    let pid: string;
    let runnerToken: string;
    const agents: RunnerProcess[] = [];
    const dir = tempDir("pipewright-confirm-");

    beforeAll(async () => {
      cluster = await startPostgres();
      const url = await cluster.createDatabase();
      server = await startServerProcess({
        args: ["--no-local-runner", "--lease-seconds", "3600"],
        env: { DATABASE_URL: url, PIPEWRIGHT_HEARTBEAT_MS: "3600000" },
      });
      const admin = client(server.url, E2E_ADMIN_TOKEN);
      runnerToken = (await admin.post("/admin/v1/tokens", { name: "r", role: "runner", project_ids: [] }))
        .body.token;
      ({ projectId: pid, api } = await setupProject(server.url));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(agents.map((a) => a.kill9()));
      await server?.kill9();
      cluster?.stop();
    });

    it("counts the loss of a job whose step had started, and fails the job at the second", async () => {
      const workDir = tempDir("pipewright-agent-");
      const marks = path.join(dir, "marks");
      const pl = await createPipelineVia(api, pid, {
        name: "confirm",
        definition: shellPipeline(`echo "attempt $$" >> ${marks}; sleep 1000`),
      });
      const run = await startRun(api, pid, pl);
      const lines = (): number =>
        fs.existsSync(marks) ? fs.readFileSync(marks, "utf8").trim().split("\n").filter(Boolean).length : 0;
      for (const attempt of [1, 2]) {
        // A fresh agent process on the work dir ends the leases its predecessor held, at once.
        const agent = startRunnerProcess({ server: server.url, token: runnerToken, name: "dies", workDir });
        agents.push(agent);
        await waitFor(async () => lines() === attempt, 30_000, `attempt ${attempt}'s step to start`);
        await agent.kill9();
      }
      // The third agent ends the second attempt's lease: lost twice, the job fails.
      const last = startRunnerProcess({ server: server.url, token: runnerToken, name: "dies", workDir });
      agents.push(last);
      const d = await waitForRun(api, pid, pl, run, undefined, 60_000);
      expect(d.status).toBe("FAILED");
      const job = d.stages[0].jobs[0];
      expect(job.message).toMatch(/was lost \(no heartbeat\) a second time; the job failed$/);
      expect(job.last_dispatch_id).toMatch(/-2$/);
      expect(lines()).toBe(2);
    }, 120_000);
  },
);
