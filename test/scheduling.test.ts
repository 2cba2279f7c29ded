// How a run moves through its stages and jobs, over HTTP against a real server with real shell
// processes: stage order, depends_on, parallel jobs, failure and run_always, job conditions.
// Every check is about order or about what ran, never about how long anything took.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  createPipelineVia,
  definition,
  type JobSpec,
  type ServerProcess,
  type StageSpec,
  setupProject,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

/** `${{ e }}` (written so that no string literal holds a template placeholder). */
const cond = (e: string): string => `\${{ ${e} }}`;

interface JobView {
  identifier: string;
  status: string;
  start_time: number;
  end_time: number;
}
interface StageView {
  identifier: string;
  status: string;
  jobs: JobView[];
}
interface RunView {
  id: string;
  status: string;
  run_number: number;
  stages: StageView[];
}

describe("scheduling", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  let tmp: string;
  beforeAll(async () => {
    server = await startServerProcess();
    ({ projectId: pid, api } = await setupProject(server.url));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pw-sched-"));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const runToEnd = async (def: StageSpec[], body: Record<string, unknown> = {}, variables?: unknown[]) => {
    const p = await createPipelineVia(api, pid, {
      definition: definition(def),
      ...(variables ? { variables } : {}),
    });
    const res = await api.post(`/v5/${pid}/api/pipelines/${p}/run`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (await waitForRun(api, pid, p, res.body.pipeline_run_id)) as RunView;
  };

  const stageStatus = (d: RunView) => Object.fromEntries(d.stages.map((s) => [s.identifier, s.status]));
  const jobStatus = (d: RunView) =>
    Object.fromEntries(d.stages.flatMap((s) => s.jobs.map((j) => [j.identifier, j.status])));
  const lines = (file: string): string[] =>
    fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];

  /** A job that appends "<id> start" and "<id> end" to `file`, pausing in between. */
  const logged = (file: string, id: string, extra: Partial<JobSpec> = {}): JobSpec => ({
    identifier: id,
    steps: [{ script: `echo "${id} start" >> "${file}"; sleep 0.2; echo "${id} end" >> "${file}"` }],
    ...extra,
  });

  /** Two jobs that each wait (bounded) for the other's marker: both complete only if they run at once. */
  const rendezvous = (dir: string, me: string, other: string): string =>
    `touch "${dir}/${me}.ready"; for i in $(seq 1 200); do [ -e "${dir}/${other}.ready" ] && break; sleep 0.05; done; [ -e "${dir}/${other}.ready" ]`;

  it("runs stages one after another, in sequence order", async () => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, "seq-")), "order");
    const d = await runToEnd([
      { identifier: "one", jobs: [logged(file, "one_a"), logged(file, "one_b")] },
      { identifier: "two", jobs: [logged(file, "two_a")] },
      { identifier: "three", jobs: [logged(file, "three_a"), logged(file, "three_b")] },
    ]);
    expect(d.status).toBe("COMPLETED");
    const seen = lines(file);
    expect(seen).toHaveLength(10);
    const stageOf = (line: string) => line.split("_")[0];
    // All lines of a stage come before any line of the next one.
    expect(seen.map(stageOf)).toEqual([
      "one",
      "one",
      "one",
      "one",
      "two",
      "two",
      "three",
      "three",
      "three",
      "three",
    ]);
  });

  it("stages with depends_on fan out and join: both branches run at once, the join waits for both", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "fan-"));
    const file = path.join(dir, "order");
    const branch = (me: string, other: string): JobSpec => ({
      identifier: me,
      steps: [
        {
          script: `echo "${me} start" >> "${file}"; ${rendezvous(dir, me, other)}; echo "${me} end" >> "${file}"`,
        },
      ],
    });
    const d = await runToEnd([
      { identifier: "build", jobs: [logged(file, "build")] },
      { identifier: "test_a", depends_on: ["build"], jobs: [branch("a", "b")] },
      { identifier: "test_b", depends_on: ["build"], jobs: [branch("b", "a")] },
      { identifier: "publish", depends_on: ["test_a", "test_b"], jobs: [logged(file, "publish")] },
    ]);
    expect(d.status).toBe("COMPLETED");
    expect(stageStatus(d)).toEqual({
      build: "COMPLETED",
      test_a: "COMPLETED",
      test_b: "COMPLETED",
      publish: "COMPLETED",
    });
    const seen = lines(file);
    const at = (l: string) => seen.indexOf(l);
    expect(seen).toHaveLength(8);
    expect(at("build end")).toBeLessThan(at("a start"));
    expect(at("build end")).toBeLessThan(at("b start"));
    expect(at("publish start")).toBeGreaterThan(at("a end"));
    expect(at("publish start")).toBeGreaterThan(at("b end"));
  });

  it("jobs with depends_on run after the jobs they name, whatever their place in the list", async () => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, "jobs-")), "order");
    const d = await runToEnd([
      {
        identifier: "only",
        jobs: [
          logged(file, "third", { depends_on: ["second"] }),
          logged(file, "second", { depends_on: ["first"] }),
          logged(file, "first"),
        ],
      },
    ]);
    expect(d.status).toBe("COMPLETED");
    expect(lines(file)).toEqual([
      "first start",
      "first end",
      "second start",
      "second end",
      "third start",
      "third end",
    ]);
  });

  it("jobs of one stage without depends_on run in parallel", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "par-"));
    const d = await runToEnd([
      {
        identifier: "only",
        jobs: [
          { identifier: "left", steps: [{ script: rendezvous(dir, "left", "right") }] },
          { identifier: "right", steps: [{ script: rendezvous(dir, "right", "left") }] },
        ],
      },
    ]);
    expect(d.status).toBe("COMPLETED");
    expect(jobStatus(d)).toEqual({ left: "COMPLETED", right: "COMPLETED" });
  });

  it("a failed job fails its stage; later stages are SKIPPED unless run_always; conditions look back", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "fail-"));
    const mark = (id: string, extra: Partial<JobSpec> = {}): JobSpec => ({
      identifier: id,
      steps: [{ script: `touch "${dir}/${id}"` }],
      ...extra,
    });
    const d = await runToEnd([
      {
        identifier: "s1",
        jobs: [
          { identifier: "bad", steps: [{ script: `touch "${dir}/bad"; exit 1` }] },
          mark("good"),
          mark("after_bad", { depends_on: ["bad"] }),
          mark("on_failure", { depends_on: ["bad"], condition: cond("failure()") }),
          mark("always_after_bad", { depends_on: ["bad"], condition: cond("always()") }),
          mark("failure_of_good", { depends_on: ["good"], condition: cond("failure()") }),
        ],
      },
      { identifier: "s2", jobs: [mark("plain")] },
      {
        identifier: "s3",
        run_always: true,
        jobs: [
          mark("cleanup"),
          mark("notify_failure", { condition: cond("failure()") }),
          mark("only_on_success", { condition: cond("success()") }),
        ],
      },
      { identifier: "s4", jobs: [mark("after_cleanup")] },
    ]);
    expect(d.status).toBe("FAILED");
    expect(stageStatus(d)).toEqual({ s1: "FAILED", s2: "SKIPPED", s3: "COMPLETED", s4: "SKIPPED" });
    const expected: Record<string, string> = {
      bad: "FAILED",
      good: "COMPLETED",
      after_bad: "SKIPPED",
      on_failure: "COMPLETED",
      always_after_bad: "COMPLETED",
      failure_of_good: "SKIPPED",
      plain: "SKIPPED",
      cleanup: "COMPLETED",
      notify_failure: "COMPLETED",
      only_on_success: "SKIPPED",
      after_cleanup: "SKIPPED",
    };
    expect(jobStatus(d)).toEqual(expected);
    // Exactly the jobs that ran left their marker.
    const ran = Object.keys(expected).filter((j) => expected[j] !== "SKIPPED");
    expect(fs.readdirSync(dir).sort()).toEqual(ran.sort());
  });

  describe("job conditions over variables", () => {
    const conditions: Record<string, string> = {
      eq: "default() && variables.X == 'yes'",
      env_eq: "env.X == 'yes'",
      ne: "variables.X != 'yes'",
      not: "!(variables.X == 'yes')",
      or: "variables.X == 'maybe' || variables.X == 'yes'",
      contains_t: "contains(variables.LIST, 'BETA')",
      contains_f: "contains(variables.LIST, 'gamma')",
      starts_t: "startsWith(variables.BRANCH, 'release/')",
      starts_f: "startsWith(variables.BRANCH, 'main')",
      ends_t: "endsWith(variables.BRANCH, '/1.0')",
      ends_f: "endsWith(variables.BRANCH, '/2.0')",
      and_not: "default() && !startsWith(variables.BRANCH, 'main') && variables.X != 'no'",
    };
    let dir: string;
    let pipelineId: string;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(tmp, "cond-"));
      pipelineId = await createPipelineVia(api, pid, {
        definition: definition([
          {
            identifier: "only",
            jobs: Object.entries(conditions).map(([id, c]) => ({
              identifier: id,
              condition: cond(c),
              steps: [{ script: `touch "${dir}/${id}.$PIPELINE_RUN_NUMBER"` }],
            })),
          },
        ]),
        variables: [
          { name: "X", value: "yes", is_runtime: true },
          { name: "BRANCH", value: "release/1.0" },
          { name: "LIST", value: "alpha,beta" },
        ],
      });
    });

    const check = async (x: string, shouldRun: string[]) => {
      const res = await api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, {
        variables: [{ name: "X", value: x }],
      });
      expect(res.status).toBe(200);
      const d = (await waitForRun(api, pid, pipelineId, res.body.pipeline_run_id)) as RunView;
      expect(d.status).toBe("COMPLETED");
      const want = Object.fromEntries(
        Object.keys(conditions).map((id) => [id, shouldRun.includes(id) ? "COMPLETED" : "SKIPPED"]),
      );
      expect(jobStatus(d)).toEqual(want);
      const ran = Object.keys(conditions).filter((id) =>
        fs.existsSync(path.join(dir, `${id}.${d.run_number}`)),
      );
      expect(ran.sort()).toEqual([...shouldRun].sort());
    };

    it("X = yes", async () => {
      await check("yes", ["eq", "env_eq", "or", "contains_t", "starts_t", "ends_t", "and_not"]);
    });

    it("X = no", async () => {
      await check("no", ["ne", "not", "contains_t", "starts_t", "ends_t"]);
    });
  });
});
