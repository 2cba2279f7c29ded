// Delays, suspensions and manual reviews by several approvers, end to end against a real server
// process: CodeArts's delay-pass, delay-refuse, delay and resume operations, the manual/pass and
// manual/refuse form, approvers checked against the caller and decided all/any.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipelineBodyFromText } from "../src/pipeline/yaml-form.js";
import {
  type Answer,
  type Client,
  client,
  createPipelineVia,
  definition,
  runDetail,
  type ServerProcess,
  type StepSpec,
  setupProject,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

type Detail = Answer["body"];
interface Step {
  id: string;
  task: string;
  status: string;
  message: string | null;
  review_deadline: number | null;
  approvals: { approver: string; decision: string }[];
}
interface Job {
  id: string;
  steps: Step[];
}
const jobOf = (d: Detail): Job => (d.stages as { jobs: Job[] }[])[0]!.jobs[0]!;

const delay = (seconds: number): StepSpec => ({
  name: "wait",
  task: "official_devcloud_delay",
  inputs: [
    { key: "timerType", value: "delay" },
    { key: "delayTime", value: seconds },
  ],
});
const suspend: StepSpec = { name: "hold", task: "SuspendPipeline", inputs: [] };
const review = (approvers: string, strategy: "all" | "any"): StepSpec => ({
  name: "review",
  task: "official_devcloud_checkpoint",
  inputs: [
    { key: "approvers", value: approvers },
    { key: "check_strategy", value: strategy },
    { key: "timeout", value: 3600 },
    { key: "timeout_strategy", value: "reject" },
  ],
});
const around = (step: StepSpec) =>
  definition([{ identifier: "s", jobs: [{ identifier: "j", steps: [step, { script: "echo after" }] }] }]);

describe("delays, suspensions and reviews", () => {
  let server: ServerProcess;
  let api: Client;
  let admin: Client;
  let pid: string;
  beforeAll(async () => {
    server = await startServerProcess();
    ({ projectId: pid, api, admin } = await setupProject(server.url));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const start = async (pipelineId: string): Promise<string> => {
    const res = await api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.pipeline_run_id;
  };
  const waiting = async (pipelineId: string, status: string) => {
    const runId = await start(pipelineId);
    const d = await waitForRun(api, pid, pipelineId, runId, [status]);
    const job = jobOf(d);
    return {
      runId,
      job,
      step: job.steps[0]!,
      base: `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/${runId}`,
    };
  };

  it("a delay waits on the server; delay extends it by an hour three times at most; delay-pass goes on", async () => {
    const p = await createPipelineVia(api, pid, { definition: around(delay(3600)) });
    const { runId, job, step, base } = await waiting(p, "PAUSED");
    expect(step.status).toBe("PAUSED");
    const first = step.review_deadline!;
    const at = `${base}/jobs/${job.id}/steps/${step.id}`;
    for (let i = 1; i <= 3; i++) expect((await api.post(`${at}/delay`, {})).status).toBe(200);
    const extended = jobOf(await runDetail(api, pid, p, runId)).steps[0]!;
    expect(extended.review_deadline).toBe(first + 3 * 3600 * 1000);
    expect(extended.message).toContain("3 of 3");
    const fourth = await api.post(`${at}/delay`, {});
    expect(fourth.status).toBe(409);
    expect(fourth.body.error_code).toBe("DEVPIPE.00020253");
    // A delay is not a suspension.
    expect((await api.post(`${at}/resume`, {})).body.error_code).toBe("DEVPIPE.00020254");
    expect((await api.post(`${at}/delay-pass`, {})).status).toBe(200);
    const done = await waitForRun(api, pid, p, runId);
    expect(done.status).toBe("COMPLETED");
    expect(jobOf(done).steps[0]!.message).toContain("delay ended by");
    // Ended, it takes no more operations.
    expect((await api.post(`${at}/delay-pass`, {})).body.error_code).toBe("DEVPIPE.00020252");
  });

  it("delay-refuse fails the step and the run; a delay that elapses goes on by itself", async () => {
    const p = await createPipelineVia(api, pid, { definition: around(delay(3600)) });
    const { runId, job, step, base } = await waiting(p, "PAUSED");
    expect((await api.post(`${base}/jobs/${job.id}/steps/${step.id}/delay-refuse`, {})).status).toBe(200);
    const refused = await waitForRun(api, pid, p, runId);
    expect(refused.status).toBe("FAILED");
    expect(jobOf(refused).steps[1]!.status).toBe("SKIPPED");

    const short = await createPipelineVia(api, pid, { definition: around(delay(1)) });
    const elapsed = await waitForRun(api, pid, short, await start(short));
    expect(elapsed.status).toBe("COMPLETED");
    expect(jobOf(elapsed).steps[0]!.message).toBe("delay elapsed");
  });

  it("a suspension holds the run SUSPEND until resumed", async () => {
    const p = await createPipelineVia(api, pid, { definition: around(suspend) });
    const { runId, job, step, base } = await waiting(p, "SUSPEND");
    expect(step.status).toBe("SUSPEND");
    expect((await api.post(`${base}/jobs/${job.id}/steps/${step.id}/delay-pass`, {})).body.error_code).toBe(
      "DEVPIPE.00020252",
    );
    expect((await api.post(`${base}/jobs/${job.id}/steps/${step.id}/resume`, {})).status).toBe(200);
    const done = await waitForRun(api, pid, p, runId);
    expect(done.status).toBe("COMPLETED");
    expect(jobOf(done).steps[0]!.message).toMatch(/^resumed by /);
  });

  describe("reviews with approvers", () => {
    const tokenOf = async (name: string, role = "operator"): Promise<Client> => {
      const t = await admin.post("/admin/v1/tokens", { name, role, project_ids: [pid] });
      expect(t.status).toBe(200);
      return client(server.url, t.body.token);
    };
    let alice: Client;
    let bob: Client;
    let carol: Client;
    beforeAll(async () => {
      alice = await tokenOf("alice");
      bob = await tokenOf("bob");
      carol = await tokenOf("carol");
    });

    it("all: each named approver passes; others are refused 403; one decision each", async () => {
      const p = await createPipelineVia(api, pid, { definition: around(review("alice, bob", "all")) });
      const { runId, step, base } = await waiting(p, "PAUSED");
      const manual = `${base}/steps/${step.id}/manual`;
      const stranger = await carol.post(`${manual}/pass`, {});
      expect(stranger.status).toBe(403);
      expect(stranger.body.error_code).toBe("DEVPIPE.00020255");
      expect((await alice.post(`${manual}/pass`, { approval_description: "looks fine" })).status).toBe(200);
      const half = jobOf(await runDetail(api, pid, p, runId)).steps[0]!;
      expect(half.status).toBe("PAUSED");
      expect(half.message).toContain("waiting for bob");
      expect(half.approvals).toMatchObject([{ approver: "alice", decision: "pass" }]);
      expect((await alice.post(`${manual}/pass`, {})).body.error_code).toBe("DEVPIPE.00020256");
      expect((await bob.post(`${manual}/pass`, {})).status).toBe(200);
      const done = await waitForRun(api, pid, p, runId);
      expect(done.status).toBe("COMPLETED");
      expect(jobOf(done).steps[0]!.approvals.map((a) => a.approver)).toEqual(["alice", "bob"]);
    });

    it("any: one approver decides; a refusal fails the review", async () => {
      const p = await createPipelineVia(api, pid, { definition: around(review("alice,bob", "any")) });
      const passed = await waiting(p, "PAUSED");
      expect((await bob.post(`${passed.base}/steps/${passed.step.id}/manual/pass`, {})).status).toBe(200);
      expect((await waitForRun(api, pid, p, passed.runId)).status).toBe("COMPLETED");

      const refused = await waiting(p, "PAUSED");
      // The form with the job in the path checks the approvers the same way.
      const at = `${refused.base}/jobs/${refused.job.id}/steps/${refused.step.id}`;
      expect((await carol.post(`${at}/refuse`, {})).status).toBe(403);
      expect((await alice.post(`${at}/refuse`, { approval_description: "no" })).status).toBe(200);
      const d = await waitForRun(api, pid, p, refused.runId);
      expect(d.status).toBe("FAILED");
      expect(jobOf(d).steps[0]!.message).toBe("refused by alice: no");
    });

    it("examples/two-approvers.yaml and examples/delayed-deployment.yaml create and run", async () => {
      const example = (f: string) =>
        pipelineBodyFromText(fs.readFileSync(path.join(import.meta.dirname, "..", "examples", f), "utf8"))
          .body;
      const two = await createPipelineVia(api, pid, {
        ...example("two-approvers.yaml"),
        name: `two_${Date.now()}`,
      });
      const runId = await start(two);
      const d = await waitForRun(api, pid, two, runId, ["PAUSED"]);
      const gate = (d.stages as { jobs: Job[] }[])[1]!.jobs[0]!.steps[0]!;
      const at = `/v5/${pid}/api/pipelines/${two}/pipeline-runs/${runId}/steps/${gate.id}/manual/pass`;
      expect((await alice.post(at, {})).status).toBe(200);
      expect((await bob.post(at, {})).status).toBe(200);
      expect((await waitForRun(api, pid, two, runId)).status).toBe("COMPLETED");

      const delayed = await createPipelineVia(api, pid, {
        ...example("delayed-deployment.yaml"),
        name: `dd_${Date.now()}`,
      });
      const dRun = await start(delayed);
      const w = await waitForRun(api, pid, delayed, dRun, ["PAUSED"]);
      const wjob = (w.stages as { jobs: Job[] }[])[1]!.jobs[0]!;
      const pass = `/v5/${pid}/api/pipelines/${delayed}/pipeline-runs/${dRun}/jobs/${wjob.id}/steps/${wjob.steps[0]!.id}/delay-pass`;
      expect((await api.post(pass, {})).status).toBe(200);
      expect((await waitForRun(api, pid, delayed, dRun)).status).toBe("COMPLETED");
    });

    it("an approver still needs execute permission on the pipeline", async () => {
      const viewer = await tokenOf("dave", "viewer");
      const p = await createPipelineVia(api, pid, { definition: around(review("dave", "any")) });
      const { step, base } = await waiting(p, "PAUSED");
      expect((await viewer.post(`${base}/steps/${step.id}/manual/pass`, {})).status).toBe(403);
    });
  });
});
