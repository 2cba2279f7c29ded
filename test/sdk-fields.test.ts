// Fields the newest official SDK sends that were ignored: the run detail by
// `pipeline_run_number`, and the reviewer's `approval_description` on pass and refuse. The server
// runs without a runner: a run whose first step is a manual review waits at it without one.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
} from "./helpers/app.js";
import { definition, waitFor } from "./helpers/server.js";

let t: TestApp;
let pid: string;
beforeAll(async () => {
  t = await createTestApp({ localRunner: false });
  pid = await createProject(t.app);
});
afterAll(async () => {
  await t?.close();
});

const review = {
  name: "review",
  task: "official_devcloud_checkpoint",
  inputs: [
    { key: "approvers", value: "" },
    { key: "check_strategy", value: "all" },
    { key: "timeout", value: 3600 },
    { key: "timeout_strategy", value: "reject" },
    { key: "comment", value: "" },
  ],
};

describe("fields of the newest SDK", () => {
  it("answers the run detail by pipeline_run_number", async () => {
    const pl = await createPipeline(t.app, pid);
    const runs: string[] = [];
    for (let i = 0; i < 3; i++)
      runs.push(
        (await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/run`, { token: ADMIN_TOKEN, body: {} }))
          .body.pipeline_run_id,
      );
    const detail = (q: string) =>
      call(t.app, "GET", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/detail${q}`, { token: ADMIN_TOKEN });
    const second = await detail("?pipeline_run_number=2");
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(runs[1]);
    expect(second.body.run_number).toBe(2);
    expect((await detail("")).body.id).toBe(runs[2]);
    expect((await detail("?pipeline_run_number=9")).status).toBe(404);
    // Both given and not the same run: not found rather than one of them silently.
    expect((await detail(`?pipeline_run_id=${runs[0]}&pipeline_run_number=2`)).status).toBe(404);
    expect((await detail("?pipeline_run_number=0")).status).toBe(400);
  });

  it("keeps the reviewer's approval_description in the step's message", async () => {
    const pl = await createPipeline(t.app, pid, {
      definition: definition([
        { identifier: "s", jobs: [{ identifier: "j", steps: [review, { script: "true" }] }] },
      ]),
    });
    for (const [decision, words] of [
      ["pass", "looks good"],
      ["refuse", "not today"],
    ] as const) {
      const runId = (
        await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/run`, { token: ADMIN_TOKEN, body: {} })
      ).body.pipeline_run_id as string;
      const paused = await waitFor(async () => {
        const d = await call(
          t.app,
          "GET",
          `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/detail?pipeline_run_id=${runId}`,
          {
            token: ADMIN_TOKEN,
          },
        );
        const job = d.body.stages[0].jobs[0];
        return job.steps[0].status === "PAUSED" ? job : undefined;
      });
      const res = await call(
        t.app,
        "POST",
        `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${runId}/jobs/${paused.id}/steps/${paused.steps[0].id}/${decision}`,
        { token: ADMIN_TOKEN, body: { approval_description: words } },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const d = await call(
        t.app,
        "GET",
        `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/detail?pipeline_run_id=${runId}`,
        {
          token: ADMIN_TOKEN,
        },
      );
      expect(d.body.stages[0].jobs[0].steps[0].message).toMatch(
        new RegExp(`^${decision === "pass" ? "approved" : "refused"} by .*: ${words}$`),
      );
    }
  });
});
