// Registering a runner again, by its id: a process that registers again (a server restarted
// under it) keeps its jobs; a fresh process under the same id (an agent restarted on its work
// dir) is the same entry, updated, and the jobs the id held are settled at once by the lease
// rules; another credential's id is refused with its own code.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  type CallResult,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
} from "./helpers/app.js";

describe("a runner registering again", () => {
  let t: TestApp;
  let token: string;
  const register = (body: Record<string, unknown>, as = token): Promise<CallResult> =>
    call(t.app, "POST", "/runner/v1/register", { token: as, body: { name: "r", slots: 1, ...body } });
  const runners = async () =>
    (await call(t.app, "GET", "/admin/v1/runners", { token: ADMIN_TOKEN })).body.runners as {
      id: string;
      name: string;
      labels: string[];
      slots: number;
      online: boolean;
    }[];

  beforeEach(async () => {
    t = await createTestApp({ localRunner: false });
    token = await issueToken(t.app, "runner", []);
  });
  afterEach(async () => {
    await t.close();
  });

  /** A job claimed and confirmed by the runner; answers its run's detail reader and the job. */
  async function holdJob(runnerId: string) {
    const p = await createProject(t.app);
    const pl = await createPipeline(t.app, p);
    const run = (
      await call(t.app, "POST", `/v5/${p}/api/pipelines/${pl}/run`, { token: ADMIN_TOKEN, body: {} })
    ).body.pipeline_run_id as string;
    const claimed = await call(t.app, "POST", "/runner/v1/claim", {
      token,
      body: { runner_id: runnerId, limit: 1, wait_ms: 5000 },
    });
    const job = claimed.body.jobs[0] as { jobRunId: string; attempt: number };
    const beat = () =>
      call(t.app, "POST", "/runner/v1/reports", {
        token,
        body: {
          runner_id: runnerId,
          reports: [{ type: "heartbeat", job_id: job.jobRunId, attempt: job.attempt }],
        },
      });
    expect((await beat()).body.held).toEqual([true]);
    const detail = async () =>
      (
        await call(t.app, "GET", `/v5/${p}/api/pipelines/${pl}/pipeline-runs/detail?pipeline_run_id=${run}`, {
          token: ADMIN_TOKEN,
        })
      ).body.stages[0].jobs[0];
    return { job, beat, detail };
  }

  it("as the same process keeps its jobs; its entry takes the new name, labels and slots", async () => {
    const id = (await register({})).body.runner_id as string;
    const { beat, detail } = await holdJob(id);
    const again = await register({ runner_id: id, name: "renamed", labels: ["gpu"], slots: 3 });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ runner_id: id, previous_jobs: 0 });
    expect((await detail()).status).toBe("RUNNING");
    expect((await beat()).body.held).toEqual([true]);
    expect(await runners()).toMatchObject([{ id, name: "renamed", labels: ["gpu"], slots: 3, online: true }]);
  });

  it("as a fresh process ends the leases its id held: the job goes to a runner again, once", async () => {
    const id = (await register({ fresh: true })).body.runner_id as string;
    const { job, beat, detail } = await holdJob(id);
    const fresh = await register({ runner_id: id, fresh: true });
    expect(fresh.body).toMatchObject({ runner_id: id, previous_jobs: 1 });
    const after = await detail();
    expect(after.status).toBe("REDISPATCH");
    expect(after.message).toContain("was lost");
    // The old attempt is fenced out; the job's next attempt is the runner's to take.
    expect((await beat()).body.held).toEqual([false]);
    const claimed = await call(t.app, "POST", "/runner/v1/claim", {
      token,
      body: { runner_id: id, limit: 1, wait_ms: 5000 },
    });
    expect(claimed.body.jobs).toMatchObject([{ jobRunId: job.jobRunId, attempt: job.attempt + 1 }]);
    expect((await runners()).map((r) => r.id)).toEqual([id]);
  });

  it("as a fresh process counts the unconfirmed jobs whose steps the previous one started as lost, and only those", async () => {
    const id = (await register({ fresh: true })).body.runner_id as string;
    const p = await createProject(t.app);
    for (let i = 0; i < 2; i++) {
      const pl = await createPipeline(t.app, p);
      await call(t.app, "POST", `/v5/${p}/api/pipelines/${pl}/run`, { token: ADMIN_TOKEN, body: {} });
    }
    const claimed = await call(t.app, "POST", "/runner/v1/claim", {
      token,
      body: { runner_id: id, limit: 2, wait_ms: 5000 },
    });
    // Neither confirmed: the previous process died before any report of theirs arrived, after its
    // step groups' journal recorded a step of the first.
    const [ran, never] = claimed.body.jobs as { jobRunId: string; attempt: number }[];
    expect(never).toBeDefined();
    const fresh = await register({
      runner_id: id,
      fresh: true,
      ran: [
        { job_id: ran!.jobRunId, attempt: ran!.attempt },
        // Another attempt of the other job, and a job not its own: neither counts.
        { job_id: never!.jobRunId, attempt: never!.attempt + 1 },
        { job_id: "0123456789abcdef0123456789abcdef", attempt: 1 },
      ],
    });
    expect(fresh.body).toMatchObject({ previous_jobs: 2 });
    expect(await t.store.getJob(ran!.jobRunId)).toMatchObject({
      status: "REDISPATCH",
      lost: 1,
      message: expect.stringContaining("was lost"),
    });
    expect(await t.store.getJob(never!.jobRunId)).toMatchObject({
      status: "REDISPATCH",
      lost: 0,
      message: expect.stringContaining("never confirmed"),
    });
  });

  it("under another credential's id is refused with DEVPIPE.00020270, and changes nothing", async () => {
    const id = (await register({})).body.runner_id as string;
    const other = await issueToken(t.app, "runner", []);
    const res = await register({ runner_id: id, fresh: true, name: "thief" }, other);
    expect(res.status).toBe(403);
    expect(res.body.error_code).toBe("DEVPIPE.00020270");
    expect(res.body.error_msg).toContain("runner_id");
    expect(await runners()).toMatchObject([{ id, name: "r" }]);
  });

  it("under an id the server does not know is that runner", async () => {
    const id = "0123456789abcdef0123456789abcdef";
    const res = await register({ runner_id: id, fresh: true });
    expect(res.body).toMatchObject({ runner_id: id, previous_jobs: 0 });
    expect((await runners()).map((r) => r.id)).toEqual([id]);
  });
});
