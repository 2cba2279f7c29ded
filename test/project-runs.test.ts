// The project's run list across its pipelines (ours, `POST /v5/{project_id}/api/pipeline-runs/list`,
// behind the UI's Runs page and `pipewright runs list`): newest first, filtered by status,
// pipeline, trigger and time, pipelines hidden by their own permissions left out, bad input named.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClock } from "../src/clock.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
} from "./helpers/app.js";

let t: TestApp;
let pid: string;
const clock = createTestClock(Date.UTC(2026, 0, 1));
const pipelines: Record<string, string> = {};
const runs: { pipeline: string; id: string; at: number }[] = [];

const list = (body: unknown, token = ADMIN_TOKEN) =>
  call(t.app, "POST", `/v5/${pid}/api/pipeline-runs/list`, { token, body });

beforeAll(async () => {
  t = await createTestApp({ localRunner: false, clock });
  pid = await createProject(t.app);
  for (const name of ["alpha", "beta"]) pipelines[name] = await createPipeline(t.app, pid, { name });
  // alpha, beta, alpha, each a minute apart (no runner here: they stay queued).
  for (const name of ["alpha", "beta", "alpha"]) {
    clock.advance(60_000);
    const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pipelines[name]}/run`, {
      token: ADMIN_TOKEN,
      body: {},
    });
    expect(res.status).toBe(200);
    runs.push({ pipeline: name, id: res.body.pipeline_run_id, at: clock.now() });
  }
});
afterAll(async () => {
  await t?.close();
});

describe("the project's run list", () => {
  it("lists every pipeline's runs newest first, each a run summary with its pipeline's name", async () => {
    const res = await list({});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ offset: 0, limit: 10, total: 3 });
    expect(res.body.pipeline_runs.map((r: { pipeline_run_id: string }) => r.pipeline_run_id)).toEqual(
      runs.map((r) => r.id).reverse(),
    );
    const [first] = res.body.pipeline_runs;
    expect(first).toMatchObject({ pipeline_id: pipelines.alpha, pipeline_name: "alpha", run_number: 2 });
    expect(Object.keys(first).sort()).toEqual(
      [
        "artifact_params",
        "build_params",
        "detail_url",
        "end_time",
        "executor_id",
        "executor_name",
        "modify_url",
        "pipeline_id",
        "pipeline_name",
        "pipeline_run_id",
        "run_number",
        "stage_status_list",
        "start_time",
        "status",
        "trigger_type",
      ].sort(),
    );
    const page = await list({ offset: 1, limit: 1 });
    expect(page.body).toMatchObject({ offset: 1, limit: 1, total: 3 });
    expect(page.body.pipeline_runs[0].pipeline_run_id).toBe(runs[1]!.id);
  });

  it("filters by pipeline, status, trigger and creation time", async () => {
    const ids = async (body: unknown) =>
      ((await list(body)).body.pipeline_runs as { pipeline_run_id: string }[]).map((r) => r.pipeline_run_id);
    expect(await ids({ pipeline_ids: [pipelines.beta] })).toEqual([runs[1]!.id]);
    expect(await ids({ status: ["QUEUED"] })).toHaveLength(3);
    expect(await ids({ status: ["COMPLETED", "FAILED"] })).toEqual([]);
    expect(await ids({ trigger_type: ["Manual"] })).toHaveLength(3);
    expect(await ids({ trigger_type: ["Scheduler"] })).toEqual([]);
    expect(await ids({ start_time: runs[1]!.at })).toEqual([runs[2]!.id, runs[1]!.id]);
    expect(await ids({ start_time: runs[0]!.at, end_time: runs[1]!.at })).toEqual([runs[1]!.id, runs[0]!.id]);
    const total = (await list({ pipeline_ids: [pipelines.alpha], status: ["QUEUED"] })).body.total;
    expect(total).toBe(2);
  });

  it("leaves out the runs of pipelines hidden from the caller, in the page and the total", async () => {
    const viewer = await issueToken(t.app, "viewer", [pid]);
    expect((await list({}, viewer)).body.total).toBe(3);
    const sw = await call(
      t.app,
      "PUT",
      `/v5/${pid}/api/pipeline-permissions/${pipelines.alpha}/update-permission-switch?flag=true`,
      { token: ADMIN_TOKEN },
    );
    expect(sw.status).toBe(200);
    const hide = await call(
      t.app,
      "POST",
      `/v5/${pid}/api/pipeline-permissions/${pipelines.alpha}/update-role-permission`,
      {
        token: ADMIN_TOKEN,
        body: {
          role_id: 3,
          operation_query: false,
          operation_execute: false,
          operation_update: false,
          operation_delete: false,
          operation_authorize: false,
        },
      },
    );
    expect(hide.status).toBe(200);
    const seen = await list({}, viewer);
    expect(seen.body.total).toBe(1);
    expect(seen.body.pipeline_runs.map((r: { pipeline_name: string }) => r.pipeline_name)).toEqual(["beta"]);
    expect((await list({})).body.total).toBe(3);
  });

  it("refuses bad input naming the field, and a project the caller is not in", async () => {
    const bad = await list({ status: ["DONE"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toContain("status");
    const extra = await list({ branch: "main" });
    expect(extra.status).toBe(400);
    expect(extra.body.error_msg).toContain("branch");
    const time = await list({ start_time: "yesterday" });
    expect(time.status).toBe(400);
    expect(time.body.error_msg).toContain("start_time");
    const other = await createProject(t.app);
    const outsider = await issueToken(t.app, "viewer", [other]);
    expect((await list({}, outsider)).status).toBe(404);
  });
});
