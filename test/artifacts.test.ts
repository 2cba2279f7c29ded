// Artifacts over HTTP against a real server process and its runner: a job keeps files of its
// workspace, a later job gets them in its own, users list (ShowPipelineArtifacts) and download
// them; what is over the cap or a link out of the workspace fails the step, naming why; other
// projects see nothing of them.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { S3_TEST_CREDENTIALS, startS3 } from "./helpers/s3.js";
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

interface JobView {
  id: string;
  identifier: string;
  status: string;
  message: string | null;
  steps: { id: string; status: string }[];
}

let server: ServerProcess;
let api: Client;
let pid: string;
const dirs: string[] = [];
beforeAll(async () => {
  server = await startServerProcess({ args: ["--max-artifact-bytes", String(1024 * 1024)] });
  ({ projectId: pid, api } = await setupProject(server.url));
});
afterAll(async () => {
  await server?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const MAKE = [
  "mkdir -p dist/deep",
  'echo "built $PIPELINE_RUN_NUMBER" > dist/a.txt',
  "head -c 300000 /dev/urandom > dist/deep/blob.bin",
  "sha256sum dist/deep/blob.bin | cut -d' ' -f1 > dist/blob.sha",
  "echo not kept > other.txt",
].join("\n");

async function runToEnd(pl: string) {
  const started = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
  expect(started.status).toBe(200);
  const runId = started.body.pipeline_run_id as string;
  const d = await waitForRun(api, pid, pl, runId, undefined, 60_000);
  const jobs = (d.stages as { jobs: JobView[] }[]).flatMap((s) => s.jobs);
  return { runId, d, job: (id: string) => jobs.find((j) => j.identifier === id)! };
}

/** GET of a URL as bytes (the download), with a token. */
async function fetchBytes(url: string, token: string) {
  const res = await fetch(url, { headers: { "x-auth-token": token } });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe("artifacts", () => {
  it("reach a later job's workspace, and users list and download them", async () => {
    const pl = await createPipelineVia(api, pid, {
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "build",
              steps: [{ script: MAKE }, { script: "echo last step" }],
              artifacts: [{ name: "dist", paths: ["dist"] }],
            },
          ],
        },
        {
          identifier: "test",
          jobs: [
            {
              identifier: "use",
              download_artifacts: ["dist"],
              steps: [
                {
                  script:
                    'cat dist/a.txt\n[ "$(sha256sum dist/deep/blob.bin | cut -d" " -f1)" = "$(cat dist/blob.sha)" ] && echo blob intact\n[ -e other.txt ] || echo other not here',
                },
              ],
            },
          ],
        },
      ]),
    });
    const { runId, d, job } = await runToEnd(pl);
    expect(d.status, JSON.stringify(d.stages)).toBe("COMPLETED");
    const use = job("use");
    const useLog = await stepLog(api, pid, pl, runId, use.id, use.steps[0]!.id);
    expect(useLog).toMatch(/\[pipewright\] artifact dist: 3 files into the workspace/);
    expect(useLog).toContain("built 1\nblob intact\nother not here\n");
    const build = job("build");
    const buildLog = await stepLog(api, pid, pl, runId, build.id, build.steps[1]!.id);
    expect(buildLog).toMatch(/\[pipewright\] artifact dist: 3 files, .* kept \(sha256 [0-9a-f]{12}\)/);

    const list = await api.get(`/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${runId}/artifacts`);
    expect(list.status).toBe(200);
    expect(list.body.artifacts).toHaveLength(1);
    const a = list.body.artifacts[0];
    expect(a).toMatchObject({
      project_id: pid,
      name: "dist",
      artifact_package_type: "tar",
      job_id: build.id,
      job_identifier: "build",
      build_no: 1,
    });
    const dl = await fetchBytes(a.artifact_download_url_with_id, api.token);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-type")).toBe("application/x-tar");
    expect(dl.headers.get("content-disposition")).toBe('attachment; filename="dist.tar"');
    const sha = crypto.createHash("sha256").update(dl.bytes).digest("hex");
    expect(a.hash_code).toEqual([{ hash_type: "sha256", hash_value: sha }]);
    expect(dl.headers.get("x-checksum-sha256")).toBe(sha);
    expect(a.file_size).toBe(String(dl.bytes.length));
    const dir = tempDir("pw-art-dl-");
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "dist.tar"), dl.bytes);
    execFileSync("tar", ["-xf", "dist.tar"], { cwd: dir });
    expect(fs.readFileSync(path.join(dir, "dist", "a.txt"), "utf8")).toBe("built 1\n");

    // Another project's token sees nothing; an unknown name is a 404 naming it.
    const other = await setupProject(server.url);
    const denied = await fetchBytes(a.artifact_download_url_with_id, other.api.token);
    expect([403, 404]).toContain(denied.status);
    expect(denied.bytes.toString()).not.toContain("built");
    const missing = await fetchBytes(
      a.artifact_download_url_with_id.replace(/dist\/download$/, "nope/download"),
      api.token,
    );
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.bytes.toString()).error_code).toBe("DEVPIPE.00020240");
  });

  it("fails the last step over the cap, naming it, and refuses a link out of the workspace", async () => {
    const pl = await createPipelineVia(api, pid, {
      definition: definition([
        {
          identifier: "s",
          jobs: [
            {
              identifier: "big",
              steps: [{ script: "mkdir out && head -c 2000000 /dev/zero > out/big" }],
              artifacts: [{ name: "big", paths: ["out/**"] }],
            },
            {
              identifier: "link",
              steps: [{ script: "mkdir out && ln -s /etc/passwd out/passwd" }],
              artifacts: [{ name: "link", paths: ["out/*"] }],
            },
            {
              identifier: "none",
              steps: [{ script: "true" }],
              artifacts: [{ name: "none", paths: ["missing/**"] }],
            },
          ],
        },
      ]),
    });
    const { runId, d, job } = await runToEnd(pl);
    expect(d.status).toBe("FAILED");
    const big = job("big");
    expect(big.status).toBe("FAILED");
    expect(big.steps[0]!.status).toBe("FAILED");
    expect(await stepLog(api, pid, pl, runId, big.id, big.steps[0]!.id)).toMatch(
      /artifact big is more than 1048576 bytes, the cap on an artifact \(--max-artifact-bytes\)/,
    );
    const link = job("link");
    expect(await stepLog(api, pid, pl, runId, link.id, link.steps[0]!.id)).toMatch(
      /artifact link: out\/passwd is a link out of the workspace/,
    );
    const none = job("none");
    expect(await stepLog(api, pid, pl, runId, none.id, none.steps[0]!.id)).toMatch(
      /no file matches missing\/\*\*/,
    );
    const list = await api.get(`/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${runId}/artifacts`);
    expect(list.body.artifacts).toEqual([]);
  });

  it("takes artifacts only from runner credentials", async () => {
    // A project admin's token is not a runner's.
    const res = await fetch(
      `${server.url}/runner/v1/jobs/${"0".repeat(32)}/artifacts/dist?runner_id=${"0".repeat(32)}&attempt=0`,
      {
        method: "PUT",
        headers: { "x-auth-token": api.token, "content-type": "application/octet-stream" },
        body: "x",
      },
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error_code: string }).error_code).toBe("DEVPIPE.30011011");
  });

  it("keep their bytes in S3-compatible storage when the server is told so", async () => {
    const s3 = await startS3();
    const s3Server = await startServerProcess({
      args: [
        "--artifacts-url",
        `s3://${s3.bucket}/pw/?endpoint=${s3.endpoint}&region=us-east-1&path_style=true`,
      ],
      env: {
        AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
      },
    });
    try {
      const project = await setupProject(s3Server.url);
      const pl = await createPipelineVia(project.api, project.projectId, {
        definition: definition([
          {
            identifier: "build",
            jobs: [
              {
                identifier: "build",
                steps: [{ script: MAKE }],
                artifacts: [{ name: "dist", paths: ["dist"] }],
              },
            ],
          },
          {
            identifier: "test",
            jobs: [
              { identifier: "use", download_artifacts: ["dist"], steps: [{ script: "cat dist/a.txt" }] },
            ],
          },
        ]),
      });
      const started = await project.api.post(`/v5/${project.projectId}/api/pipelines/${pl}/run`, {});
      const runId = started.body.pipeline_run_id as string;
      const d = await waitForRun(project.api, project.projectId, pl, runId, undefined, 60_000);
      expect(d.status).toBe("COMPLETED");
      const list = await project.api.get(
        `/v5/${project.projectId}/api/pipelines/${pl}/pipeline-runs/${runId}/artifacts`,
      );
      const a = list.body.artifacts[0];
      const sha = a.hash_code[0].hash_value as string;
      // The blob went into the bucket, under its hash.
      expect(s3.requests.some((r) => r.includes(`/${s3.bucket}/pw/blobs/${sha}`))).toBe(true);
      const dl = await fetchBytes(a.artifact_download_url_with_id, project.api.token);
      expect(crypto.createHash("sha256").update(dl.bytes).digest("hex")).toBe(sha);
    } finally {
      await s3Server.stop();
      await s3.stop();
    }
  });
});
