// Single runs over HTTP against a real server process: run options (description, variables,
// stage/job selection, sources), run numbers, run detail, run lists and latest status (spec §4.3, §4.8–4.10).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  createPipelineVia,
  definition,
  runDetail,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startServerProcess,
  stepLog,
  waitForRun,
} from "./helpers/server.js";

const rand = (): string => Math.random().toString(36).slice(2, 10);

interface JobView {
  id: string;
  identifier: string;
  status: string;
  steps: { id: string; status: string }[];
}
interface StageView {
  identifier: string;
  status: string;
  jobs: JobView[];
}

describe("single runs", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  let tmp: string;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--allow-local-clone"] });
    ({ projectId: pid, api } = await setupProject(server.url));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pw-runs-"));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const run = (pipelineId: string, body: unknown = {}) =>
    api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, body);

  /** Starts a run, expects 200 and waits for it to end. */
  const runToEnd = async (pipelineId: string, body: unknown = {}) => {
    const res = await run(pipelineId, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return waitForRun(api, pid, pipelineId, res.body.pipeline_run_id);
  };

  const runCount = async (pipelineId: string): Promise<number> => {
    const res = await api.post(`/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/list`, {});
    expect(res.status).toBe(200);
    return res.body.total;
  };

  /** The log of the step `stepIdx` of the job `jobIdentifier` (default: the first job). */
  const logOf = async (
    pipelineId: string,
    d: { id: string; stages: StageView[] },
    jobIdentifier?: string,
    stepIdx = 0,
  ): Promise<string> => {
    const jobs = d.stages.flatMap((s) => s.jobs);
    const job = jobIdentifier ? jobs.find((j) => j.identifier === jobIdentifier)! : jobs[0]!;
    return stepLog(api, pid, pipelineId, d.id, job.id, job.steps[stepIdx]!.id);
  };

  describe("variables", () => {
    let pipelineId: string;
    beforeAll(async () => {
      pipelineId = await createPipelineVia(api, pid, {
        definition: shellPipeline(
          'echo "greeting=$GREETING color=$COLOR fixed=$FIXED"\necho "token=$API_TOKEN"\necho "again:$API_TOKEN!"',
        ),
        variables: [
          { name: "GREETING", type: "string", value: "hello", is_runtime: true },
          { name: "FIXED", type: "string", value: "fixed-value" },
          { name: "COLOR", type: "enum", value: "red", limits: ["red", "blue"], is_runtime: true },
          { name: "API_TOKEN", type: "string", value: "s3cr3t-Zq9x", is_secret: true, is_runtime: true },
        ],
      });
    });

    it("defaults and runtime overrides reach the step's environment; secrets are masked in the log", async () => {
      const plain = await runToEnd(pipelineId);
      expect(plain.status).toBe("COMPLETED");
      expect(await logOf(pipelineId, plain)).toBe(
        "greeting=hello color=red fixed=fixed-value\ntoken=***\nagain:***!\n",
      );

      const d = await runToEnd(pipelineId, {
        description: "from the e2e test",
        variables: [
          { name: "GREETING", value: "bonjour" },
          { name: "COLOR", value: "blue" },
          { name: "API_TOKEN", value: "other-secret-77" },
        ],
      });
      expect(d.status).toBe("COMPLETED");
      expect(d.description).toBe("from the e2e test");
      const log = await logOf(pipelineId, d);
      expect(log).toBe("greeting=bonjour color=blue fixed=fixed-value\ntoken=***\nagain:***!\n");
      expect(log).not.toContain("other-secret-77");
      const shown = Object.fromEntries(
        (d.variables as { name: string; value: string }[]).map((v) => [v.name, v.value]),
      );
      expect(shown.GREETING).toBe("bonjour");
      expect(shown.API_TOKEN).not.toContain("other-secret-77");
    });

    it.each([
      [[{ name: "NOPE", value: "x" }], "variables[0].name"],
      [[{ name: "FIXED", value: "changed" }], "variables[0].name"],
      [
        [
          { name: "GREETING", value: "ok" },
          { name: "NOPE", value: "x" },
        ],
        "variables[1].name",
      ],
      [[{ name: "COLOR", value: "green" }], "variables[0].value"],
    ])("rejects %j with 400 DEVPIPE.00020230 naming %s and starts nothing", async (variables, field) => {
      const before = await runCount(pipelineId);
      const res = await run(pipelineId, { variables });
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020230");
      expect(res.body.error_msg).toContain(field);
      expect(await runCount(pipelineId)).toBe(before);
    });
  });

  describe("choose_stages and choose_jobs", () => {
    let pipelineId: string;
    let dir: string;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(tmp, "choose-"));
      // Each job leaves a marker and appends its name to the run's order file; the first stage's
      // jobs linger a little, so a later stage that did not wait for them would write first.
      const touch = (name: string, linger = false) => ({
        script: `${linger ? "sleep 0.3; " : ""}touch "${dir}/${name}.$PIPELINE_RUN_NUMBER"; echo ${name} >> "${dir}/order.$PIPELINE_RUN_NUMBER"`,
      });
      pipelineId = await createPipelineVia(api, pid, {
        definition: definition([
          {
            identifier: "s1",
            jobs: [
              { identifier: "j1a", steps: [touch("j1a", true)] },
              { identifier: "j1b", steps: [touch("j1b", true)] },
            ],
          },
          { identifier: "s2", jobs: [{ identifier: "j2", steps: [touch("j2")] }] },
          { identifier: "s3", jobs: [{ identifier: "j3", steps: [touch("j3")] }] },
        ]),
      });
    });

    const statuses = (d: { stages: StageView[] }) => ({
      stages: Object.fromEntries(d.stages.map((s) => [s.identifier, s.status])),
      jobs: Object.fromEntries(d.stages.flatMap((s) => s.jobs.map((j) => [j.identifier, j.status]))),
    });
    const ran = (n: number) =>
      ["j1a", "j1b", "j2", "j3"].filter((j) => fs.existsSync(path.join(dir, `${j}.${n}`)));
    const order = (n: number) =>
      fs
        .readFileSync(path.join(dir, `order.${n}`), "utf8")
        .trim()
        .split("\n");

    it("unselected stages end UNSELECTED and do not run", async () => {
      const d = await runToEnd(pipelineId, { choose_stages: ["s1", "s3"] });
      expect(d.status).toBe("COMPLETED");
      expect(statuses(d)).toEqual({
        stages: { s1: "COMPLETED", s2: "UNSELECTED", s3: "COMPLETED" },
        jobs: { j1a: "COMPLETED", j1b: "COMPLETED", j2: "UNSELECTED", j3: "COMPLETED" },
      });
      const s2 = d.stages.find((s: StageView) => s.identifier === "s2");
      expect(s2.jobs[0].steps[0].status).toBe("UNSELECTED");
      expect(ran(d.run_number)).toEqual(["j1a", "j1b", "j3"]);
      // s3 still runs after s1: skipping s2 does not let it start early.
      expect(order(d.run_number).at(-1)).toBe("j3");
    });

    it("unselected jobs end UNSELECTED and do not run; a stage without a selected job is UNSELECTED", async () => {
      const d = await runToEnd(pipelineId, { choose_jobs: ["j1a", "j3"] });
      expect(d.status).toBe("COMPLETED");
      expect(statuses(d)).toEqual({
        stages: { s1: "COMPLETED", s2: "UNSELECTED", s3: "COMPLETED" },
        jobs: { j1a: "COMPLETED", j1b: "UNSELECTED", j2: "UNSELECTED", j3: "COMPLETED" },
      });
      expect(ran(d.run_number)).toEqual(["j1a", "j3"]);
      expect(order(d.run_number)).toEqual(["j1a", "j3"]);
    });

    it("choose_stages wins over choose_jobs", async () => {
      const d = await runToEnd(pipelineId, { choose_stages: ["s2"], choose_jobs: ["j3"] });
      expect(d.status).toBe("COMPLETED");
      expect(ran(d.run_number)).toEqual(["j2"]);
    });

    it.each([
      [{ choose_stages: ["nope"] }, "choose_stages[0]"],
      [{ choose_stages: ["s1", "j1a"] }, "choose_stages[1]"],
      [{ choose_jobs: ["s1"] }, "choose_jobs[0]"],
    ])("rejects %j with a 400 naming %s and starts nothing", async (body, field) => {
      const before = await runCount(pipelineId);
      const res = await run(pipelineId, body);
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020100");
      expect(res.body.error_msg).toContain(field);
      expect(await runCount(pipelineId)).toBe(before);
    });
  });

  it("run_number counts 1, 2, 3 per pipeline and an autoIncrement variable advances per run", async () => {
    const script = 'echo "build=$BUILD n=$PIPELINE_RUN_NUMBER"';
    const a = await createPipelineVia(api, pid, {
      definition: shellPipeline(script),
      variables: [{ name: "BUILD", type: "autoIncrement", value: "build-009" }],
    });
    const b = await createPipelineVia(api, pid, { definition: shellPipeline(script) });
    const seen: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const d = await runToEnd(a);
      expect(d.status).toBe("COMPLETED");
      expect(d.run_number).toBe(i);
      seen.push(await logOf(a, d));
    }
    expect(seen).toEqual(["build=build-009 n=1\n", "build=build-010 n=2\n", "build=build-011 n=3\n"]);
    // Another pipeline has its own counter.
    const other = await runToEnd(b);
    expect(other.run_number).toBe(1);
    const pipeline = await api.get(`/v5/${pid}/api/pipelines/${a}`);
    expect(pipeline.body.variables[0].latest_value).toBe("build-011");
  });

  describe("sources", () => {
    let bare: string;
    beforeAll(() => {
      const root = fs.mkdtempSync(path.join(tmp, "git-"));
      bare = path.join(root, "repo.git");
      const work = path.join(root, "work");
      const env = {
        ...process.env,
        GIT_AUTHOR_NAME: "Pipewright Test",
        GIT_AUTHOR_EMAIL: "test@pipewright.invalid",
        GIT_COMMITTER_NAME: "Pipewright Test",
        GIT_COMMITTER_EMAIL: "test@pipewright.invalid",
        // Neither read nor write the user's or the system's git configuration.
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_CONFIG_NOSYSTEM: "1",
      };
      const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env, stdio: "pipe" });
      git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare);
      git(root, "init", "--quiet", "--initial-branch=main", work);
      fs.writeFileSync(path.join(work, "hello.txt"), "content of v1\n");
      git(work, "add", "hello.txt");
      git(work, "commit", "--quiet", "-m", "one");
      git(work, "tag", "v1");
      fs.writeFileSync(path.join(work, "hello.txt"), "content of main\n");
      git(work, "commit", "--quiet", "-am", "two");
      git(work, "push", "--quiet", bare, "main", "v1");
    });

    const clonePipeline = () =>
      createPipelineVia(api, pid, {
        definition: definition([
          {
            identifier: "build",
            jobs: [
              {
                identifier: "job",
                steps: [
                  {
                    task: "official_git_clone",
                    inputs: [
                      { key: "alias", value: "app" },
                      { key: "path", value: "src" },
                    ],
                  },
                  { script: "cat src/hello.txt" },
                ],
              },
            ],
          },
        ]),
      });

    it("an official_git_clone step checks out the run's source branch; a later step reads it", async () => {
      const p = await clonePipeline();
      const d = await runToEnd(p, {
        sources: [
          {
            type: "code",
            params: { git_type: "gitlab", git_url: `file://${bare}`, alias: "app", default_branch: "main" },
          },
        ],
      });
      expect(d.status).toBe("COMPLETED");
      expect(await logOf(p, d, "job", 1)).toBe("content of main\n");
    });

    it("build_params.tag checks out the tag", async () => {
      const p = await clonePipeline();
      const d = await runToEnd(p, {
        sources: [
          {
            type: "code",
            params: {
              git_type: "gitlab",
              git_url: `file://${bare}`,
              alias: "app",
              default_branch: "main",
              build_params: { build_type: "tag", tag: "v1" },
            },
          },
        ],
      });
      expect(d.status).toBe("COMPLETED");
      expect(await logOf(p, d, "job", 1)).toBe("content of v1\n");
    });

    it("a run without sources fails its checkout step", async () => {
      const p = await clonePipeline();
      const d = await runToEnd(p);
      expect(d.status).toBe("FAILED");
      expect(d.stages[0].jobs[0].steps[1].status).not.toBe("COMPLETED");
    });
  });

  describe("run detail, run lists and latest status", () => {
    let listed: string;
    let listedRuns: { id: string; run_number: number }[];
    beforeAll(async () => {
      listed = await createPipelineVia(api, pid, {
        definition: shellPipeline('[ "$MODE" = ok ]'),
        variables: [{ name: "MODE", value: "ok", is_runtime: true }],
      });
      listedRuns = [];
      for (let i = 1; i <= 12; i++) {
        const body = i === 3 || i === 7 ? { variables: [{ name: "MODE", value: "fail" }] } : {};
        const d = await runToEnd(listed, body);
        listedRuns.push({ id: d.id, run_number: d.run_number });
      }
    });

    const list = async (body: unknown) => {
      const res = await api.post(`/v5/${pid}/api/pipelines/${listed}/pipeline-runs/list`, body);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as {
        offset: number;
        limit: number;
        total: number;
        pipeline_runs: { pipeline_run_id: string; run_number: number; status: string }[];
      };
    };
    const numbers = (page: { pipeline_runs: { run_number: number }[] }) =>
      page.pipeline_runs.map((r) => r.run_number);

    it("detail without pipeline_run_id is the latest run; a never-run pipeline is 404 DEVPIPE.00020201", async () => {
      const latest = await runDetail(api, pid, listed);
      expect(latest.id).toBe(listedRuns[11]!.id);
      expect(latest.run_number).toBe(12);
      const older = await runDetail(api, pid, listed, listedRuns[2]!.id);
      expect(older.status).toBe("FAILED");

      const never = await createPipelineVia(api, pid, { definition: shellPipeline("true") });
      const res = await api.get(`/v5/${pid}/api/pipelines/${never}/pipeline-runs/detail`);
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe("DEVPIPE.00020201");
    });

    it("pages with offset and limit (default limit 10), newest first", async () => {
      const first = await list({});
      expect(first.total).toBe(12);
      expect(first.limit).toBe(10);
      expect(first.offset).toBe(0);
      expect(numbers(first)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3]);
      expect(first.pipeline_runs[0]!.pipeline_run_id).toBe(listedRuns[11]!.id);
      expect(numbers(await list({ offset: 10 }))).toEqual([2, 1]);
      expect(numbers(await list({ offset: 3, limit: 4 }))).toEqual([9, 8, 7, 6]);
      expect(numbers(await list({ offset: 12 }))).toEqual([]);
    });

    it("sorts by start_time or update_time in either direction", async () => {
      expect(numbers(await list({ sort_key: "start_time", sort_dir: "asc", limit: 4 }))).toEqual([
        1, 2, 3, 4,
      ]);
      expect(numbers(await list({ sort_key: "start_time", sort_dir: "desc", limit: 2 }))).toEqual([12, 11]);
      expect(numbers(await list({ sort_key: "update_time", sort_dir: "asc", limit: 2 }))).toEqual([1, 2]);
    });

    it("filters by status", async () => {
      const failed = await list({ status: ["FAILED"] });
      expect(failed.total).toBe(2);
      expect(numbers(failed)).toEqual([7, 3]);
      expect(failed.pipeline_runs.every((r) => r.status === "FAILED")).toBe(true);
      const completed = await list({ status: ["COMPLETED"], limit: 100 });
      expect(completed.total).toBe(10);
      expect(numbers(completed)).not.toContain(3);
      expect((await list({ status: ["COMPLETED", "FAILED"] })).total).toBe(12);
      expect((await list({ status: ["RUNNING"] })).total).toBe(0);
      const bad = await api.post(`/v5/${pid}/api/pipelines/${listed}/pipeline-runs/list`, {
        status: ["BOGUS"],
      });
      expect(bad.status).toBe(400);
    });

    it("latest status of several pipelines: bare arrays in request order, never-run ids left out", async () => {
      const second = await createPipelineVia(api, pid, { definition: shellPipeline("exit 3") });
      const failedRun = await runToEnd(second);
      const never = await createPipelineVia(api, pid, { definition: shellPipeline("true") });
      const res = await api.post(`/v5/${pid}/api/pipelines/status`, [never, second, listed]);
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body)).toBe(true);
      expect(
        res.body.map(
          (r: { pipeline_id: string; pipeline_run_id: string; status: string; run_number: number }) => [
            r.pipeline_id,
            r.pipeline_run_id,
            r.status,
            r.run_number,
          ],
        ),
      ).toEqual([
        [second, failedRun.id, "FAILED", 1],
        [listed, listedRuns[11]!.id, "COMPLETED", 12],
      ]);
      expect(res.body[1].stage_status_list[0].status).toBe("COMPLETED");
    });
  });

  it("a run id of another pipeline is not found in this pipeline's detail", async () => {
    const a = await createPipelineVia(api, pid, { definition: shellPipeline(`echo ${rand()}`) });
    const b = await createPipelineVia(api, pid, { definition: shellPipeline("true") });
    const d = await runToEnd(a);
    const res = await api.get(`/v5/${pid}/api/pipelines/${b}/pipeline-runs/detail?pipeline_run_id=${d.id}`);
    expect(res.status).toBe(404);
  });
});
