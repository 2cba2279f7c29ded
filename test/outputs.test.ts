// Step outputs over HTTP against a real server process and its runner: a step writes
// `name=value` lines (and a block of several lines) to the file $PIPEWRIGHT_OUTPUT names; a later
// job reads them in its condition and in its script (`${{ jobs.<job>.outputs.<name> }}`); the
// outputs endpoint (ShowStepOutputs) answers them, a secret's value masked; a bad name is refused
// in the step's log and the step's result stays.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  createPipelineVia,
  definition,
  type ServerProcess,
  setupProject,
  startServerProcess,
  stepLog,
  waitForRun,
} from "./helpers/server.js";

interface StepView {
  id: string;
  status: string;
}
interface JobView {
  id: string;
  identifier: string;
  status: string;
  message: string | null;
  steps: StepView[];
}

let server: ServerProcess;
let api: Client;
let pid: string;
beforeAll(async () => {
  server = await startServerProcess();
  ({ projectId: pid, api } = await setupProject(server.url));
});
afterAll(async () => {
  await server?.stop();
});

const WRITE = [
  'echo "version=1.2.$PIPELINE_RUN_NUMBER" >> "$PIPEWRIGHT_OUTPUT"',
  'echo "release=yes" >> "$PIPEWRIGHT_OUTPUT"',
  "printf 'notes<<EOF\\nfirst line\\nsecond line\\nEOF\\n' >> \"$PIPEWRIGHT_OUTPUT\"",
  'echo "token=$API_TOKEN" >> "$PIPEWRIGHT_OUTPUT"',
  'echo "bad name=1" >> "$PIPEWRIGHT_OUTPUT"',
].join("\n");

describe("step outputs", () => {
  it("reach a later job's condition and script, and the outputs endpoint", async () => {
    const pl = await createPipelineVia(api, pid, {
      variables: [{ name: "API_TOKEN", type: "string", value: "s3cr3t-out-Zq9", is_secret: true }],
      definition: definition([
        { identifier: "build", jobs: [{ identifier: "build", steps: [{ script: WRITE }] }] },
        {
          identifier: "deploy",
          jobs: [
            {
              identifier: "deploy",
              condition: "${{ jobs.build.outputs.release == 'yes' }}",
              steps: [
                {
                  script:
                    'echo "deploying ${{ jobs.build.outputs.version }}"\necho "notes: ${{ jobs.build.outputs.notes }}"\necho "missing: [${{ jobs.build.outputs.none }}]"',
                },
              ],
            },
            {
              identifier: "rollback",
              condition: "${{ jobs.build.outputs.release == 'no' }}",
              steps: [{ script: "echo should not run" }],
            },
          ],
        },
      ]),
    });
    const started = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
    expect(started.status).toBe(200);
    const runId = started.body.pipeline_run_id as string;
    const d = await waitForRun(api, pid, pl, runId);
    expect(d.status).toBe("COMPLETED");
    const jobs = (d.stages as { jobs: JobView[] }[]).flatMap((s) => s.jobs);
    const job = (id: string) => jobs.find((j) => j.identifier === id)!;
    expect(job("build").status).toBe("COMPLETED");
    expect(job("rollback").status).toBe("SKIPPED");
    expect(job("deploy").status).toBe("COMPLETED");

    const deployLog = await stepLog(api, pid, pl, runId, job("deploy").id, job("deploy").steps[0]!.id);
    expect(deployLog).toBe("deploying 1.2.1\nnotes: first line\nsecond line\nmissing: []\n");

    // The step's result stays; what it wrote wrong is said in its log.
    const buildStep = job("build").steps[0]!;
    expect(buildStep.status).toBe("COMPLETED");
    const buildLog = await stepLog(api, pid, pl, runId, job("build").id, buildStep.id);
    expect(buildLog).toMatch(/\[pipewright\] outputs refused: output "bad name"/);

    const outputs = await api.get(
      `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${runId}/steps/outputs?step_run_ids=${buildStep.id}`,
    );
    expect(outputs.status).toBe(200);
    expect(outputs.body.step_outputs).toEqual([
      {
        step_run_id: buildStep.id,
        output_result: [
          { key: "version", value: "1.2.1" },
          { key: "release", value: "yes" },
          { key: "notes", value: "first line\nsecond line" },
          { key: "token", value: "***" },
        ],
      },
    ]);
    expect(JSON.stringify(outputs.body)).not.toContain("s3cr3t-out-Zq9");
    // Without ids: every step of the run that left outputs.
    const all = await api.get(`/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${runId}/steps/outputs`);
    expect(all.body.step_outputs.map((s: { step_run_id: string }) => s.step_run_id)).toEqual([buildStep.id]);
  });

  it("a step that writes nothing, or replaces its outputs file with a link, leaves none", async () => {
    const pl = await createPipelineVia(api, pid, {
      definition: definition([
        {
          identifier: "s",
          jobs: [
            {
              identifier: "quiet",
              steps: [
                { script: "true" },
                { script: 'rm "$PIPEWRIGHT_OUTPUT"; ln -s /etc/passwd "$PIPEWRIGHT_OUTPUT"' },
              ],
            },
          ],
        },
      ]),
    });
    const started = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
    const runId = started.body.pipeline_run_id as string;
    const d = await waitForRun(api, pid, pl, runId);
    expect(d.status).toBe("COMPLETED");
    const job = (d.stages as { jobs: JobView[] }[])[0]!.jobs[0]!;
    const log = await stepLog(api, pid, pl, runId, job.id, job.steps[1]!.id);
    expect(log).toMatch(/outputs refused: the outputs file was replaced by a link/);
    const all = await api.get(`/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${runId}/steps/outputs`);
    expect(all.body.step_outputs).toEqual([]);
    expect(JSON.stringify(all.body)).not.toContain("root:");
  });
});
