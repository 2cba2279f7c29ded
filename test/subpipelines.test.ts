// Sub-pipelines end to end against a real server process: a job's step runs another pipeline of
// the project with variables and follows its result; the parent and the child name each other in
// the run detail; stop and retry reach the child; a cycle and a chain past the depth limit are
// refused at run time with their codes.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Answer,
  type Client,
  createPipelineVia,
  definition,
  runDetail,
  type ServerProcess,
  type StepSpec,
  setupProject,
  shellPipeline,
  startServerProcess,
  stepLog,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

type Detail = Answer["body"];
interface Step {
  id: string;
  task: string;
  status: string;
  message: string | null;
  sub_pipeline_run: { pipeline_id: string; pipeline_run_id: string; status: string } | null;
}
interface Job {
  id: string;
  identifier: string;
  status: string;
  steps: Step[];
}
const jobsOf = (d: Detail): Job[] => (d.stages as { jobs: Job[] }[]).flatMap((s) => s.jobs);
const subStep = (d: Detail): Step =>
  jobsOf(d)
    .flatMap((j) => j.steps)
    .find((s) => s.task === SUB)!;

const SUB = "official_devcloud_subPipeline";
const sub = (pipelineId: string, vars: Record<string, string> = {}): StepSpec => ({
  name: "run child",
  task: SUB,
  inputs: [
    { key: "SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID", value: pipelineId },
    { key: "SYSTEM_DEVCLOUD_SUBPIPELINE_BRANCH", value: "PARENT" },
    ...Object.entries(vars).map(([key, value]) => ({ key, value })),
  ],
});
const parentOf = (childId: string, vars: Record<string, string> = {}, after = "echo after-child") =>
  definition([
    {
      identifier: "s",
      jobs: [{ identifier: "call", steps: [sub(childId, vars), { script: after }] }],
    },
  ]);

describe("sub-pipelines", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  let tmp: string;
  beforeAll(async () => {
    server = await startServerProcess();
    ({ projectId: pid, api } = await setupProject(server.url));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pw-sub-"));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const start = async (pipelineId: string): Promise<string> => {
    const res = await api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.pipeline_run_id;
  };
  const childRunOf = (parentId: string, runId: string) =>
    waitFor(
      async () => subStep(await runDetail(api, pid, parentId, runId)).sub_pipeline_run,
      20_000,
      "the child run",
    );

  it("runs the child with the step's variables; the parent step follows it and the job goes on", async () => {
    const child = await createPipelineVia(api, pid, {
      definition: shellPipeline('echo "greeting=$GREETING"'),
      variables: [{ name: "GREETING", type: "string", value: "default", is_runtime: true }],
    });
    const parent = await createPipelineVia(api, pid, {
      definition: parentOf(child, { GREETING: "from-parent" }),
    });
    const runId = await start(parent);
    const done = await waitForRun(api, pid, parent, runId);
    expect(done.status).toBe("COMPLETED");
    const step = subStep(done);
    expect(step.status).toBe("COMPLETED");
    expect(step.sub_pipeline_run).toMatchObject({ pipeline_id: child, status: "COMPLETED" });
    expect(jobsOf(done)[0]!.steps[1]!.status).toBe("COMPLETED");

    const c = await runDetail(api, pid, child, step.sub_pipeline_run!.pipeline_run_id);
    expect(c.trigger_type).toBe("SubPipeline");
    expect(c.parent_run).toEqual({
      pipeline_id: parent,
      pipeline_run_id: runId,
      job_run_id: jobsOf(done)[0]!.id,
      step_run_id: step.id,
    });
    const cj = jobsOf(c)[0]!;
    expect(await stepLog(api, pid, child, c.id, cj.id, cj.steps[0]!.id)).toBe("greeting=from-parent\n");
    // A run not started by a step has no parent.
    expect(done.parent_run).toBeNull();
  });

  it("a failed child fails the parent step; retrying the parent retries the same child run", async () => {
    const flag = path.join(tmp, "fixed");
    const child = await createPipelineVia(api, pid, { definition: shellPipeline(`test -f ${flag}`) });
    const parent = await createPipelineVia(api, pid, { definition: parentOf(child) });
    const runId = await start(parent);
    const failed = await waitForRun(api, pid, parent, runId);
    expect(failed.status).toBe("FAILED");
    const step = subStep(failed);
    expect(step.status).toBe("FAILED");
    expect(step.message).toContain("FAILED");
    const childRun = step.sub_pipeline_run!.pipeline_run_id;
    // The step after the sub-pipeline never ran.
    expect(jobsOf(failed)[0]!.steps[1]!.status).toBe("SKIPPED");

    fs.writeFileSync(flag, "");
    expect((await api.put(`/v5/${pid}/api/pipelines/${parent}/pipeline-runs/${runId}/retry`)).status).toBe(
      200,
    );
    const again = await waitForRun(api, pid, parent, runId, ["COMPLETED", "FAILED", "CANCELED"]);
    expect(again.status).toBe("COMPLETED");
    // The same child run, retried: no second child.
    expect(subStep(again).sub_pipeline_run).toMatchObject({ pipeline_run_id: childRun, status: "COMPLETED" });
    const listed = await api.post(`/v5/${pid}/api/pipelines/${child}/pipeline-runs/list`, {
      limit: 10,
      offset: 0,
    });
    expect(listed.body.total).toBe(1);
  });

  it("stopping the parent stops the child", async () => {
    const child = await createPipelineVia(api, pid, { definition: shellPipeline("sleep 60") });
    const parent = await createPipelineVia(api, pid, { definition: parentOf(child) });
    const runId = await start(parent);
    const link = await childRunOf(parent, runId);
    await waitForRun(api, pid, child, link.pipeline_run_id, ["RUNNING"]);
    const stop = await api.post(`/v5/${pid}/api/pipelines/${parent}/pipeline-runs/${runId}/stop`);
    expect(stop.status).toBe(200);
    const c = await waitForRun(api, pid, child, link.pipeline_run_id);
    expect(c.status).toBe("CANCELED");
    expect(c.message).toContain("stopped with its parent run");
    expect((await runDetail(api, pid, parent, runId)).status).toBe("CANCELED");
  });

  it("a cycle is refused at run time with its code; the run above fails with it", async () => {
    // A runs B runs A: B's step refuses, B fails, and so A's step fails.
    const a = await createPipelineVia(api, pid, { definition: shellPipeline("true") });
    const b = await createPipelineVia(api, pid, { definition: parentOf(a) });
    const put = await api.put(`/v5/${pid}/api/pipelines/${a}`, {
      name: `cyc_${Date.now()}`,
      is_publish: false,
      definition: parentOf(b),
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const runId = await start(a);
    const done = await waitForRun(api, pid, a, runId);
    expect(done.status).toBe("FAILED");
    const bRun = subStep(done).sub_pipeline_run!;
    const bDetail = await runDetail(api, pid, b, bRun.pipeline_run_id);
    const refused = subStep(bDetail);
    expect(refused.status).toBe("FAILED");
    expect(refused.message).toContain("DEVPIPE.00020250");
    expect(refused.message).toMatch(/cycle: .+ -> .+ -> .+/);
    expect(refused.sub_pipeline_run).toBeNull();
  });

  it("a chain deeper than the limit is refused at the level past it", async () => {
    // p[0] runs p[1] … runs p[6]: five levels run below the top one, the sixth is refused.
    const ids: string[] = [await createPipelineVia(api, pid, { definition: shellPipeline("true") })];
    for (let i = 0; i < 6; i++)
      ids.unshift(await createPipelineVia(api, pid, { definition: parentOf(ids[0]!) }));
    const runId = await start(ids[0]!);
    const done = await waitForRun(api, pid, ids[0]!, runId);
    expect(done.status).toBe("FAILED");
    let d = done;
    for (let level = 1; level <= 5; level++) {
      const link = subStep(d).sub_pipeline_run!;
      expect(link.pipeline_id).toBe(ids[level]);
      d = await runDetail(api, pid, link.pipeline_id, link.pipeline_run_id);
    }
    expect(subStep(d).message).toContain("DEVPIPE.00020251");
    expect(subStep(d).sub_pipeline_run).toBeNull();
  });

  it("refuses a step naming no pipeline, and fails one naming a pipeline the project does not have", async () => {
    const bad = await api.post(`/v5/${pid}/api/pipelines`, {
      name: `bad_${Date.now()}`,
      is_publish: false,
      definition: definition([
        { identifier: "s", jobs: [{ identifier: "j", steps: [{ task: SUB, inputs: [] }] }] },
      ]),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toContain("SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID");
    const parent = await createPipelineVia(api, pid, { definition: parentOf("0".repeat(32)) });
    const done = await waitForRun(api, pid, parent, await start(parent));
    expect(done.status).toBe("FAILED");
    expect(subStep(done).message).toContain("has no pipeline");
  });
});
