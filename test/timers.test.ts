// Everything that happens because time passes — a job's timeout, a review's timeout, a runner's
// lease running out — driven by a test clock: the server runs in this process on a real SQLite
// file with real step processes, and the test moves time instead of waiting for it.

import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createTestClock, type TestClock } from "../src/clock.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
  tempDir,
} from "./helpers/app.js";
import { processGroupGone, waitFor } from "./helpers/server.js";

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

interface Step {
  id: string;
  status: string;
  message: string | null;
}
interface Job {
  id: string;
  identifier: string;
  status: string;
  message: string | null;
  last_dispatch_id: string | null;
  steps: Step[];
}
interface Detail {
  status: string;
  stages: { jobs: Job[] }[];
}

const shell = (script: string) => ({
  name: "sh",
  task: "official_shell_plugin",
  inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: script }],
});
const checkpoint = (timeout: number, strategy: "reject" | "pass") => ({
  name: "review",
  task: "official_devcloud_checkpoint",
  inputs: [
    { key: "timeout", value: timeout },
    { key: "timeout_strategy", value: strategy },
  ],
});
const definition = (stages: { identifier: string; jobs: Record<string, unknown>[] }[]): string =>
  JSON.stringify({
    stages: stages.map((s) => ({
      name: s.identifier,
      identifier: s.identifier,
      jobs: s.jobs.map((j) => ({ name: j.identifier, ...j })),
    })),
  });

async function setup(clock: TestClock, args: string[] = []) {
  t = await createTestApp({
    clock,
    extraArgs: args,
    ...(args.includes("--no-local-runner") ? { localRunner: false } : {}),
  });
  const app = t.app;
  const pid = await createProject(app);
  const base = `/v5/${pid}/api/pipelines`;
  return {
    app,
    pid,
    async pipeline(def: string): Promise<string> {
      return createPipeline(app, pid, { definition: def });
    },
    async start(pl: string): Promise<string> {
      const res = await call(app, "POST", `${base}/${pl}/run`, { token: ADMIN_TOKEN, body: {} });
      expect(res.status).toBe(200);
      return res.body.pipeline_run_id;
    },
    async detail(pl: string, run: string): Promise<Detail> {
      const res = await call(app, "GET", `${base}/${pl}/pipeline-runs/detail?pipeline_run_id=${run}`, {
        token: ADMIN_TOKEN,
      });
      return res.body as Detail;
    },
    async log(pl: string, run: string, job: Job, step = 0): Promise<string> {
      const res = await call(
        app,
        "POST",
        `${base}/${pl}/pipeline-runs/${run}/jobs/${job.id}/steps/${job.steps[step]!.id}/logs`,
        { token: ADMIN_TOKEN, body: { limit: 1000, sort: "asc" } },
      );
      return res.body.log as string;
    },
  };
}

const jobOf = (d: Detail, identifier: string): Job =>
  d.stages.flatMap((s) => s.jobs).find((j) => j.identifier === identifier)!;

describe("with a test clock", () => {
  it("fails a job that exceeds its timeout (timed by the runner process, in real time) and kills its whole process group", async () => {
    const clock = createTestClock();
    const s = await setup(clock);
    const dir = tempDir("pipewright-timers-");
    const pgidFile = path.join(dir, "timeout.pgid");
    const pl = await s.pipeline(
      definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "slow",
              timeout: "2",
              steps: [shell(`echo $$ > ${pgidFile}\nsleep 1000 &\nsleep 1000`)],
            },
          ],
        },
      ]),
    );
    const run = await s.start(pl);
    const pgid = await waitFor(async () => {
      const text = fs.existsSync(pgidFile) ? fs.readFileSync(pgidFile, "utf8").trim() : "";
      return /^\d+$/.test(text) ? Number(text) : undefined;
    });
    expect(processGroupGone(pgid)).toBe(false);
    // The runner process times the job on its own clock (the real one): the test clock does not
    // reach it. Short of the timeout nothing happens; at the timeout (and its kill grace) it ends.
    expect((await s.detail(pl, run)).status).toBe("RUNNING");
    const d = await waitFor(async () => {
      const x = await s.detail(pl, run);
      return x.status === "FAILED" ? x : undefined;
    });
    const j = jobOf(d, "slow");
    expect(j.status).toBe("FAILED");
    expect(j.message).toContain("timed out");
    expect(j.steps[0]!.status).toBe("FAILED");
    expect(j.steps[0]!.message).toContain("timed out");
    expect(await s.log(pl, run, j)).toContain("timed out");
    await waitFor(async () => processGroupGone(pgid), 15_000, `process group ${pgid} to be gone`);
  });

  describe("manual review", () => {
    async function reviewRun(clock: TestClock, strategy: "reject" | "pass") {
      const s = await setup(clock);
      const dir = tempDir("pipewright-timers-");
      const pl = await s.pipeline(
        definition([
          {
            identifier: "gate",
            jobs: [
              {
                identifier: "approve",
                steps: [checkpoint(60, strategy), shell(`echo "after review"\ntouch ${dir}/after`)],
              },
            ],
          },
          { identifier: "deploy", jobs: [{ identifier: "ship", steps: [shell(`touch ${dir}/ship`)] }] },
        ]),
      );
      const run = await s.start(pl);
      await waitFor(async () => (await s.detail(pl, run)).status === "PAUSED");
      // Just short of its 60 s timeout the review still waits.
      await clock.advance(59_000);
      expect((await s.detail(pl, run)).status).toBe("PAUSED");
      await clock.advance(1000);
      const d = await waitFor(async () => {
        const x = await s.detail(pl, run);
        return ["COMPLETED", "FAILED"].includes(x.status) ? x : undefined;
      });
      return { d, dir };
    }

    it("applies timeout_strategy reject when nobody decides in time", async () => {
      const { d, dir } = await reviewRun(createTestClock(), "reject");
      expect(d.status).toBe("FAILED");
      const j = jobOf(d, "approve");
      expect(j.steps[0]!.status).toBe("FAILED");
      expect(j.steps[0]!.message).toContain("timed out");
      expect(fs.existsSync(path.join(dir, "after"))).toBe(false);
      expect(jobOf(d, "ship").status).toBe("SKIPPED");
    });

    it("applies timeout_strategy pass when nobody decides in time", async () => {
      const { d, dir } = await reviewRun(createTestClock(), "pass");
      expect(d.status).toBe("COMPLETED");
      const j = jobOf(d, "approve");
      expect(j.steps[0]!.status).toBe("COMPLETED");
      expect(j.steps[0]!.message).toContain("timed out");
      expect(fs.existsSync(path.join(dir, "after"))).toBe(true);
      expect(fs.existsSync(path.join(dir, "ship"))).toBe(true);
    });
  });

  describe("leases of remote runners", () => {
    async function agentSetup(clock: TestClock) {
      const s = await setup(clock, ["--no-local-runner", "--lease-seconds", "3"]);
      const runnerToken = await issueToken(s.app, "runner", []);
      const post = async (url: string, body: unknown) => {
        const res = await call(s.app, "POST", url, { token: runnerToken, body });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body;
      };
      const { runner_id } = await post("/runner/v1/register", { name: "test-agent", slots: 1 });
      const claim = async (): Promise<{ jobRunId: string; attempt: number; steps: { id: string }[] }> => {
        const { jobs } = await post("/runner/v1/claim", { runner_id, limit: 1, wait_ms: 0 });
        expect(jobs).toHaveLength(1);
        return jobs[0];
      };
      const heartbeat = (job: { jobRunId: string; attempt: number }) =>
        post(`/runner/v1/jobs/${job.jobRunId}/heartbeat`, { runner_id, attempt: job.attempt });
      const pl = await s.pipeline(
        definition([{ identifier: "s", jobs: [{ identifier: "j", steps: [shell("true")] }] }]),
      );
      const run = await s.start(pl);
      const job = async () => jobOf(await s.detail(pl, run), "j");
      const stepStarted = (job: { jobRunId: string; attempt: number; steps: { id: string }[] }) =>
        post(`/runner/v1/jobs/${job.jobRunId}/steps/${job.steps[0]!.id}/start`, {
          runner_id,
          attempt: job.attempt,
        });
      return { s, claim, heartbeat, stepStarted, job, post };
    }

    it("sends a job back once when its runner stops renewing the lease, and fails it the second time", async () => {
      const clock = createTestClock();
      const { claim, heartbeat, job } = await agentSetup(clock);

      // The runner takes the job and confirms it with a heartbeat, then goes silent.
      const first = await claim();
      expect(first.attempt).toBe(1);
      expect(await heartbeat(first)).toEqual({ held: true });
      await clock.advance(2000);
      expect((await job()).status).toBe("RUNNING");
      await clock.advance(3000);
      let j = await waitFor(async () => {
        const x = await job();
        return x.status === "REDISPATCH" ? x : undefined;
      });
      expect(j.message).toMatch(/was lost \(no heartbeat\); dispatched again$/);
      expect(j.steps[0]!.status).toBe("INIT");
      // The late runner is fenced out: its heartbeat no longer holds the job.
      expect(await heartbeat(first)).toEqual({ held: false });

      // Taken again, confirmed, lost again: now the job fails.
      const second = await claim();
      expect(second.attempt).toBe(2);
      expect(await heartbeat(second)).toEqual({ held: true });
      await clock.advance(5000);
      j = await waitFor(async () => {
        const x = await job();
        return x.status === "FAILED" ? x : undefined;
      });
      expect(j.message).toMatch(/was lost \(no heartbeat\) a second time; the job failed$/);
      expect(j.steps[0]!.status).toBe("FAILED");
      expect(j.last_dispatch_id).toMatch(/-2$/);
    });

    it("counts a job as confirmed from its first step's start, before any heartbeat (issue 18 item 4)", async () => {
      const clock = createTestClock();
      const { claim, stepStarted, job } = await agentSetup(clock);
      // A runner that starts the step and dies inside its first second never sends a heartbeat:
      // the step's start proved it had the job, so the loss counts, and the second one fails it.
      for (const [attempt, status, message] of [
        [1, "REDISPATCH", /was lost \(no heartbeat\); dispatched again$/],
        [2, "FAILED", /was lost \(no heartbeat\) a second time; the job failed$/],
      ] as const) {
        const taken = await claim();
        expect(taken.attempt).toBe(attempt);
        expect(await stepStarted(taken)).toEqual({ held: true });
        await clock.advance(5000);
        const j = await waitFor(async () => {
          const x = await job();
          return x.status === status ? x : undefined;
        });
        expect(j.message).toMatch(message);
      }
    });

    it("does not count a claim the runner never confirmed as losing the job", async () => {
      const clock = createTestClock();
      const { claim, heartbeat, job } = await agentSetup(clock);
      // Twice the claim's answer is lost (no heartbeat ever comes): the job goes back each time.
      for (const attempt of [1, 2]) {
        const lost = await claim();
        expect(lost.attempt).toBe(attempt);
        await clock.advance(5000);
        const j = await waitFor(async () => {
          const x = await job();
          return x.status === "REDISPATCH" ? x : undefined;
        });
        expect(j.message).toMatch(/never confirmed the job; dispatched again$/);
      }
      // The third runner confirms and is lost once: dispatched again, not failed.
      const third = await claim();
      expect(await heartbeat(third)).toEqual({ held: true });
      await clock.advance(5000);
      const j = await waitFor(async () => {
        const x = await job();
        return x.status === "REDISPATCH" ? x : undefined;
      });
      expect(j.message).toMatch(/was lost \(no heartbeat\); dispatched again$/);
    });
  });
});
