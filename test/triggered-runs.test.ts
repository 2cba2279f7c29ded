// Runs that code events start, executed by the embedded runner against a real local bare
// repository: the checkout builds the event's commit even when the branch has moved on since,
// and a pipeline with `concurrency_control.supersede` stops its older runs of the same branch
// when a newer event arrives (not those of another branch, and never for a tag).

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
} from "./helpers/app.js";
import { git } from "./helpers/git.js";
import { definition, waitFor } from "./helpers/server.js";

let t: TestApp;
let pid: string;
let secret: string;
let bare: string;
let work: string;

function commit(branch: string, content: string): string {
  git(work, "checkout", "--quiet", ...(git(work, "branch", "--list", branch) ? [] : ["-b"]), branch);
  fs.writeFileSync(path.join(work, "hello.txt"), `${content}\n`);
  git(work, "add", "hello.txt");
  git(work, "commit", "--quiet", "-m", content);
  git(work, "push", "--quiet", bare, branch);
  return git(work, "rev-parse", "HEAD");
}

beforeAll(async () => {
  t = await createTestApp({ extraArgs: ["--allow-local-clone"] });
  pid = await createProject(t.app);
  bare = path.join(t.dir, "repo.git");
  work = path.join(t.dir, "work");
  git(t.dir, "init", "--quiet", "--bare", "--initial-branch=main", bare);
  git(t.dir, "init", "--quiet", "--initial-branch=main", work);
  fs.writeFileSync(path.join(work, "hello.txt"), "first\n");
  git(work, "add", "hello.txt");
  git(work, "commit", "--quiet", "-m", "first");
  git(work, "push", "--quiet", bare, "main");
  const probe = await createPipeline(t.app, pid);
  const hook = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${probe}/webhook`, { token: ADMIN_TOKEN });
  secret = hook.body.security_token;
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** A generic push delivery, signed with the project's secret. */
async function push(ref: string, sha: string, message = "change") {
  const body = JSON.stringify({
    event: "push",
    repository: `file://${bare}`,
    ref,
    commit: sha,
    message,
    author: "alice",
    delivery_id: crypto.randomUUID(),
  });
  const res = await t.app.inject({
    method: "POST",
    url: `/hooks/v1/${pid}`,
    headers: {
      "content-type": "application/json",
      "x-pipewright-signature": `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`,
    },
    payload: body,
  });
  return res.json() as { status: string; pipeline_runs: { pipeline_id: string; pipeline_run_id: string }[] };
}

async function detail(pipelineId: string, runId: string) {
  const res = await call(
    t.app,
    "GET",
    `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/detail?pipeline_run_id=${runId}`,
    { token: ADMIN_TOKEN },
  );
  expect(res.status).toBe(200);
  return res.body as {
    status: string;
    message: string | null;
    stages: { jobs: { id: string; status: string; steps: { id: string; status: string }[] }[] }[];
  };
}
const TERMINAL = ["COMPLETED", "FAILED", "CANCELED"];
const statusOf = async (pipelineId: string, runId: string) => (await detail(pipelineId, runId)).status;
const until = (pipelineId: string, runId: string, want: (s: string) => boolean, what: string) =>
  waitFor(
    async () => {
      const s = await statusOf(pipelineId, runId);
      return want(s) && s;
    },
    60_000,
    what,
  );

async function stepLog(pipelineId: string, runId: string, stepIdx: number): Promise<string> {
  const d = await detail(pipelineId, runId);
  const job = d.stages[0]!.jobs[0]!;
  const res = await call(
    t.app,
    "POST",
    `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/${runId}/jobs/${job.id}/steps/${job.steps[stepIdx]!.id}/logs`,
    { token: ADMIN_TOKEN, body: { limit: 10000, sort: "asc" } },
  );
  expect(res.status).toBe(200);
  return res.body.log as string;
}

const trigger = (extra: Record<string, unknown> = {}) => ({
  git_url: `file://${bare}`,
  events: [
    { type: "push", enable: true },
    { type: "tag_push", enable: true },
  ],
  ...extra,
});

describe("runs started by code events", () => {
  it("check out the event's commit, also after the branch moved on", async () => {
    const pl = await createPipeline(t.app, pid, {
      triggers: [trigger({ branches: ["main"] })],
      definition: definition([
        {
          identifier: "build",
          jobs: [
            {
              identifier: "job",
              steps: [
                { task: "official_git_clone", inputs: [{ key: "path", value: "src" }] },
                { script: "echo head=$(git -C src rev-parse HEAD) content=$(cat src/hello.txt)" },
              ],
            },
          ],
        },
      ]),
    });
    const older = commit("main", "older");
    commit("main", "newer");
    const res = await push("refs/heads/main", older);
    expect(res.status).toBe("accepted");
    const runId = res.pipeline_runs.find((s) => s.pipeline_id === pl)!.pipeline_run_id;
    expect(await until(pl, runId, (s) => TERMINAL.includes(s), "the run to end")).toBe("COMPLETED");
    const log = await stepLog(pl, runId, 1);
    expect(log).toContain(`head=${older} content=older`);
  });

  it("with supersede, stop older runs of the same branch; another branch and tags are left alone", async () => {
    const pl = await createPipeline(t.app, pid, {
      triggers: [trigger()],
      concurrency_control: { concurrency_number: 5, exceed_action: "QUEUE", enable: true, supersede: true },
      definition: definition([
        { identifier: "build", jobs: [{ identifier: "job", steps: [{ script: "sleep 60" }] }] },
      ]),
    });
    const detailOf = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${pl}`, { token: ADMIN_TOKEN });
    expect(detailOf.body.concurrency_control).toMatchObject({ supersede: true });
    const runOf = (r: Awaited<ReturnType<typeof push>>) =>
      r.pipeline_runs.find((s) => s.pipeline_id === pl)!.pipeline_run_id;

    const first = runOf(await push("refs/heads/main", commit("main", "a")));
    const other = runOf(await push("refs/heads/dev", commit("dev", "d")));
    await until(pl, first, (s) => s === "RUNNING", "the first run to run");
    git(work, "tag", "v9");
    git(work, "push", "--quiet", bare, "v9");
    const tagged = runOf(await push("refs/tags/v9", git(work, "rev-parse", "HEAD")));
    // Neither a push to another branch nor a tag supersedes the run of main.
    await t.server.engine.settled();
    expect(await statusOf(pl, first)).toBe("RUNNING");

    const second = runOf(await push("refs/heads/main", commit("main", "b")));
    await t.server.engine.settled();
    const stopped = await detail(pl, first);
    expect(stopped.status).toBe("CANCELED");
    expect(stopped.message).toMatch(/^superseded by run #\d+/);
    expect(stopped.message).toContain(second);
    for (const id of [second, other, tagged]) expect(TERMINAL).not.toContain(await statusOf(pl, id));

    for (const id of [second, other, tagged]) {
      const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${id}/stop`, {
        token: ADMIN_TOKEN,
        body: {},
      });
      expect(res.status).toBe(200);
    }
  });

  it("without supersede, a newer event leaves the older run going", async () => {
    const pl = await createPipeline(t.app, pid, {
      triggers: [trigger({ branches: ["solo"] })],
      definition: definition([
        { identifier: "build", jobs: [{ identifier: "job", steps: [{ script: "sleep 60" }] }] },
      ]),
    });
    const ids = [];
    for (const c of ["x", "y"]) {
      const r = await push("refs/heads/solo", commit("solo", c));
      ids.push(r.pipeline_runs.find((s) => s.pipeline_id === pl)!.pipeline_run_id);
    }
    await t.server.engine.settled();
    for (const id of ids) expect(TERMINAL).not.toContain(await statusOf(pl, id));
    for (const id of ids)
      await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${id}/stop`, {
        token: ADMIN_TOKEN,
        body: {},
      });
  });
});
