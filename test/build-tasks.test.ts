// Build-style tasks end to end against a real server process: CodeArts's build step
// (official_devcloud_cloudBuild) runs its command as a shell step does, and ExecuteImage
// (official_docker_executor) runs its command through the runner's container runtime. Docker is
// not needed: the runtime is a script written here that stands in for `docker run`, recording its
// arguments and running the command the way the container would.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Answer,
  type Client,
  createPipelineVia,
  definition,
  type ServerProcess,
  type StepSpec,
  setupProject,
  startRun,
  startServerProcess,
  stepLog,
  waitForRun,
} from "./helpers/server.js";

type Detail = Answer["body"];
interface Step {
  id: string;
  identifier: string;
  status: string;
  message: string | null;
}
interface Job {
  id: string;
  identifier: string;
  status: string;
  steps: Step[];
}
const jobsOf = (d: Detail): Job[] => (d.stages as { jobs: Job[] }[]).flatMap((s) => s.jobs);
const jobOf = (d: Detail, id: string): Job => jobsOf(d).find((j) => j.identifier === id)!;

const build = (command: string): StepSpec => ({
  name: "Build",
  task: "official_devcloud_cloudBuild",
  inputs: [
    { key: "__sameProject__", value: "true" },
    { key: "jobId", value: "2e52a0a5f56349188416c1fdeffd92a4" },
    { key: "artifactIdentifier", value: "" },
    { key: "command", value: command },
  ],
});
const image = (img: string, command: string): StepSpec => ({
  name: "Run image",
  task: "official_docker_executor",
  inputs: [
    { key: "attribute", value: "public" },
    { key: "image", value: img },
    { key: "command", value: command },
  ],
});

/** A stand-in for `docker run`: records its arguments, then runs `sh -c CMD` in the -w directory. */
function fakeRuntime(dir: string): { bin: string; record: string } {
  const bin = path.join(dir, "fake-docker");
  const record = path.join(dir, "calls.txt");
  fs.writeFileSync(
    bin,
    `#!/bin/bash
printf '%s\\n' "$@" >> ${JSON.stringify(record)}
printf -- '--end--\\n' >> ${JSON.stringify(record)}
[ "$1" = run ] || exit 64
shift
while [ $# -gt 0 ]; do
  case "$1" in
    -w) cd "$2"; shift 2 ;;
    -v|-e|--user|--name) shift 2 ;;
    --rm) shift ;;
    sh) [ "$2" = -c ] && exec sh -c "$3"; exit 65 ;;
    *) shift ;;  # the image
  esac
done
exit 66
`,
    { mode: 0o755 },
  );
  return { bin, record };
}

describe("build-style tasks", () => {
  let plain: ServerProcess;
  let withRuntime: ServerProcess;
  let fake: { bin: string; record: string };
  beforeAll(async () => {
    fake = fakeRuntime(tempDir("pipewright-fake-runtime-"));
    [plain, withRuntime] = await Promise.all([
      startServerProcess(),
      startServerProcess({ args: ["--container-runtime", fake.bin] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), withRuntime?.stop()]);
  });

  async function runPipeline(
    srv: ServerProcess,
    def: string,
    variables: unknown[] = [],
  ): Promise<{ api: Client; projectId: string; pipelineId: string; runId: string; detail: Detail }> {
    const { api, projectId } = await setupProject(srv.url);
    const pipelineId = await createPipelineVia(api, projectId, { definition: def, variables });
    const runId = await startRun(api, projectId, pipelineId);
    const detail = await waitForRun(api, projectId, pipelineId, runId);
    return { api, projectId, pipelineId, runId, detail };
  }

  it("a build step runs its command as a shell step: log, outputs for later jobs, failure on a non-zero exit", async () => {
    const def = definition([
      {
        identifier: "s",
        jobs: [
          {
            identifier: "compile",
            steps: [
              build(
                'echo "compiling in $PWD"; echo "version=1.4.$PIPELINE_RUN_NUMBER" >> "$PIPEWRIGHT_OUTPUT"',
              ),
            ],
          },
          {
            identifier: "report",
            depends_on: ["compile"],
            steps: [{ script: 'echo "built ${{ jobs.compile.outputs.version }}"' }],
          },
          { identifier: "broken", steps: [build("exit 3")] },
        ],
      },
    ]);
    const { api, projectId, pipelineId, runId, detail } = await runPipeline(plain, def);
    const compile = jobOf(detail, "compile");
    expect(compile.status).toBe("COMPLETED");
    const log = await stepLog(api, projectId, pipelineId, runId, compile.id, compile.steps[0]!.id);
    expect(log).toContain("compiling in");
    const report = jobOf(detail, "report");
    expect(await stepLog(api, projectId, pipelineId, runId, report.id, report.steps[0]!.id)).toContain(
      "built 1.4.1",
    );
    const broken = jobOf(detail, "broken");
    expect(broken.status).toBe("FAILED");
    expect(broken.steps[0]!.message).toBe("exit code 3");
  });

  it("a container step without a container runtime fails with DEVPIPE.00020257 naming the option", async () => {
    const def = definition([
      {
        identifier: "s",
        jobs: [{ identifier: "img", steps: [image("swr.example.com/demo/app:1.1", "echo hi")] }],
      },
    ]);
    const { api, projectId, pipelineId, runId, detail } = await runPipeline(plain, def);
    expect(detail.status).toBe("FAILED");
    const job = jobOf(detail, "img");
    const msg = job.steps[0]!.message ?? "";
    expect(msg).toContain("DEVPIPE.00020257");
    expect(msg).toContain("--container-runtime");
    expect(await stepLog(api, projectId, pipelineId, runId, job.id, job.steps[0]!.id)).toContain(
      "DEVPIPE.00020257",
    );
  });

  it("a container step runs its command through the configured runtime, in the workspace, as the step's user", async () => {
    fs.rmSync(fake.record, { force: true });
    const def = definition([
      {
        identifier: "s",
        jobs: [
          {
            identifier: "img",
            steps: [
              { script: "echo from-the-checkout > input.txt" },
              image(
                "swr.example.com/demo/app:1.1",
                'cat input.txt; echo "token length ${#DEPLOY_TOKEN}"; echo "digest=abc123" >> "$PIPEWRIGHT_OUTPUT"',
              ),
            ],
          },
          {
            identifier: "after",
            depends_on: ["img"],
            steps: [{ script: 'echo "image said ${{ jobs.img.outputs.digest }}"' }],
          },
        ],
      },
    ]);
    const secret = "s3cr3t-value-never-on-a-command-line";
    const { api, projectId, pipelineId, runId, detail } = await runPipeline(withRuntime, def, [
      { name: "DEPLOY_TOKEN", value: secret, is_secret: true },
    ]);
    expect(detail.status, JSON.stringify(jobsOf(detail))).toBe("COMPLETED");
    const job = jobOf(detail, "img");
    const log = await stepLog(api, projectId, pipelineId, runId, job.id, job.steps[1]!.id);
    expect(log).toContain("from-the-checkout");
    expect(log).toContain(`token length ${secret.length}`);
    const after = jobOf(detail, "after");
    expect(await stepLog(api, projectId, pipelineId, runId, after.id, after.steps[0]!.id)).toContain(
      "image said abc123",
    );

    const calls = fs.readFileSync(fake.record, "utf8").split("--end--\n").filter(Boolean);
    expect(calls).toHaveLength(1);
    const args = calls[0]!.trimEnd().split("\n");
    expect(args.slice(0, 2)).toEqual(["run", "--rm"]);
    expect(args[args.indexOf("--user") + 1]).toBe(`${process.getuid!()}:${process.getgid!()}`);
    const ws = args[args.indexOf("-w") + 1]!;
    expect(ws).toContain(job.id);
    expect(args[args.indexOf("-v") + 1]).toBe(`${ws}:${ws}`);
    // Variables by name only: the runtime reads their values from its environment.
    const passed = args.flatMap((a, i) => (args[i - 1] === "-e" ? [a] : []));
    expect(passed).toEqual(
      expect.arrayContaining(["DEPLOY_TOKEN", "PIPELINE_ID", "WORKSPACE", "PIPEWRIGHT_OUTPUT"]),
    );
    expect(calls[0]).not.toContain(secret);
    expect(args.slice(-4, -1)).toEqual(["swr.example.com/demo/app:1.1", "sh", "-c"]);
  });

  it("refuses at create what cannot run: a build step with no command, an image that is no reference", async () => {
    const { api, projectId } = await setupProject(plain.url);
    const create = (step: StepSpec) =>
      api.post(`/v5/${projectId}/api/pipelines`, {
        name: `pl_${Math.random().toString(36).slice(2, 8)}`,
        is_publish: false,
        definition: definition([{ identifier: "s", jobs: [{ identifier: "j", steps: [step] }] }]),
      });
    const exported = await create({
      task: "official_devcloud_cloudBuild",
      inputs: [{ key: "jobId", value: "2e52a0a5f56349188416c1fdeffd92a4" }],
    });
    expect(exported.status).toBe(400);
    expect(exported.body.error_code).toBe("DEVPIPE.00020110");
    expect(exported.body.error_msg).toContain("definition.stages[0].jobs[0].steps[0].inputs: command");
    expect(exported.body.error_msg).toContain("2e52a0a5f56349188416c1fdeffd92a4");
    const option = await create(image("--privileged", "id"));
    expect(option.status).toBe(400);
    expect(option.body.error_msg).toContain(
      "definition.stages[0].jobs[0].steps[0].inputs[1].value: image must be",
    );
    const unknown = await create({ task: "official_devcloud_deploy", inputs: [] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error_msg).toContain(
      "supported tasks: official_shell_plugin, official_devcloud_cloudBuild, official_docker_executor",
    );
  });
});
