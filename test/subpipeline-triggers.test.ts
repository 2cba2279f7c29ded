// A run a trigger started has no credential behind it: its sub-pipeline steps are checked against
// whoever last changed the parent pipeline (docs/decisions.md, "Sub-pipelines"), so an operator
// who may change a pipeline but not run another cannot have a webhook run that other one for them.

import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  runDetail,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const REPO = "https://git.example.com/acme/release.git";
const OPERATOR = 2;
const ops = (execute: boolean, update: boolean) => ({
  operation_query: true,
  operation_execute: execute,
  operation_update: update,
  operation_delete: false,
  operation_authorize: false,
});

describe("sub-pipelines of a run a trigger started", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("run with the permission of the parent pipeline's last editor: refused where they may not execute", async () => {
    const { projectId: pid, api: admin, admin: root } = await setupProject(server.url);
    const t = await root.post("/admin/v1/tokens", { name: "ops-olga", role: "operator", project_ids: [pid] });
    const op: Client = client(server.url, t.body.token);

    const allowed = await createPipelineVia(admin, pid, {
      name: "allowed-child",
      definition: shellPipeline("true"),
    });
    const denied = await createPipelineVia(admin, pid, {
      name: "denied-child",
      definition: shellPipeline("true"),
    });
    const sub = (child: string, id: string) => ({
      name: "run child",
      identifier: id,
      task: "official_devcloud_subPipeline",
      inputs: [{ key: "SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID", value: child }],
    });
    const body = {
      name: "release",
      is_publish: false,
      definition: definition([
        {
          identifier: "s",
          jobs: [
            { identifier: "a", steps: [sub(allowed, "run_allowed")] },
            { identifier: "b", steps: [sub(denied, "run_denied")] },
          ],
        },
      ]),
      triggers: [{ git_url: REPO, git_type: "github", events: [{ type: "push", enable: true }] }],
    };
    const parent = await createPipelineVia(admin, pid, body);
    const matrix = async (ids: string[], execute: boolean, update: boolean) => {
      const res = await admin.post(`/v5/${pid}/api/pipeline-permissions/pipeline/batch-role-permission`, {
        pipeline_ids: ids,
        is_project_switch: false,
        roles: [{ role_id: OPERATOR, ...ops(execute, update) }],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await matrix([parent], true, true);
    await matrix([allowed], true, false);
    await matrix([denied], false, false);
    // The operator changes the parent pipeline: they are now who its trigger runs stand for.
    const put = await op.put(`/v5/${pid}/api/pipelines/${parent}`, { ...body, description: "by olga" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);

    const hook = await admin.get(`/v5/${pid}/api/pipelines/${parent}/webhook`);
    const payload = JSON.stringify({
      event: "push",
      repository: REPO,
      ref: "refs/heads/main",
      commit: "a".repeat(40),
      delivery_id: crypto.randomUUID(),
    });
    const res = await fetch(`${server.url}/hooks/v1/${pid}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-pipewright-signature": `sha256=${crypto.createHmac("sha256", hook.body.security_token).update(payload).digest("hex")}`,
      },
      body: payload,
    });
    expect(res.status).toBe(200);
    const started = (await res.json()) as {
      pipeline_runs: { pipeline_id: string; pipeline_run_id: string }[];
    };
    const runId = started.pipeline_runs.find((r) => r.pipeline_id === parent)!.pipeline_run_id;
    const done = await waitForRun(admin, pid, parent, runId);
    const jobs = (
      done.stages as { jobs: { identifier: string; status: string; steps: { message: string | null }[] }[] }[]
    )[0]!.jobs;
    const a = jobs.find((j) => j.identifier === "a")!;
    const b = jobs.find((j) => j.identifier === "b")!;
    expect(a.status).toBe("COMPLETED");
    expect(b.status).toBe("FAILED");
    expect(b.steps[0]!.message).toContain("the last to change pipeline release");
    expect(b.steps[0]!.message).toContain("may not run pipeline denied-child");
    // The denied child never ran; the allowed one did, started by the trigger's run.
    const none = await admin.post(`/v5/${pid}/api/pipelines/${denied}/pipeline-runs/list`, { limit: 10 });
    expect(none.body.total).toBe(0);
    const child = await waitFor(async () => (await runDetail(admin, pid, allowed)).status === "COMPLETED");
    expect(child).toBe(true);
  });
});
