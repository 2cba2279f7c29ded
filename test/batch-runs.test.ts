// Batch runs over HTTP against a real server process: the contract of DESIGN.md.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  createPipelineVia,
  runDetail,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

describe("batch-runs", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--max-batch-size", "50"] });
    ({ projectId: pid, api } = await setupProject(server.url));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const batch = (ids: unknown, headers?: Record<string, string>) =>
    api.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids }, headers);

  it("starts every pipeline, answers in request order, and every run really executes", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(await createPipelineVia(api, pid, { definition: shellPipeline(`echo run-${i}`) }));
    const res = await batch(ids);
    expect(res.status).toBe(200);
    expect(res.body.result.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual(ids);
    for (const r of res.body.result) expect(r.pipeline_run_id).toMatch(/^[0-9a-f]{32}$/);
    for (const [i, r] of res.body.result.entries()) {
      const d = await waitForRun(api, pid, r.pipeline_id, r.pipeline_run_id);
      expect(d.status).toBe("COMPLETED");
      const job = d.stages[0].jobs[0];
      const log = await api.post(
        `/v5/${pid}/api/pipelines/${r.pipeline_id}/pipeline-runs/${d.id}/jobs/${job.id}/steps/${job.steps[0].id}/logs`,
        { limit: 100, sort: "asc" },
      );
      expect(log.body.log).toBe(`run-${i}\n`);
    }
  });
});
