// Run lifecycle over HTTP against a real server process running real shell processes: the
// runner's workspace, environment and `bash -e`; stop, retry and manual review. What happens as
// time passes (job and review timeouts) is in timers.test.ts, driven by a test clock.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Answer,
  type Client,
  client,
  createPipelineVia,
  definition,
  processGroupGone,
  runDetail,
  type ServerProcess,
  type StepSpec,
  setupProject,
  shellPipeline,
  startServerProcess,
  stepLog,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

type Detail = Answer["body"];

interface Node {
  id: string;
  status: string;
  message?: string | null;
  start_time: number;
  end_time: number;
}
interface JobNode extends Node {
  identifier: string;
  steps: (Node & { review_deadline: number | null })[];
  attempt: number;
  previous_attempts: unknown[];
}
interface StageNode extends Node {
  identifier: string;
  jobs: JobNode[];
}

const stagesOf = (d: Detail): StageNode[] => d.stages as StageNode[];
const jobsOf = (d: Detail): JobNode[] => stagesOf(d).flatMap((s) => s.jobs);
const stepsOf = (d: Detail): Node[] => jobsOf(d).flatMap((j) => j.steps);
function jobOf(d: Detail, identifier: string): JobNode {
  const j = jobsOf(d).find((x) => x.identifier === identifier);
  if (!j) throw new Error(`no job ${identifier} in ${JSON.stringify(d)}`);
  return j;
}
/** Everything a run's state consists of, without the server clock. */
const stateOf = (d: Detail): unknown => ({ ...d, current_system_time: 0, pause_time: 0 });

async function waitGroupGone(pgid: number): Promise<void> {
  expect(pgid).toBeGreaterThan(1);
  await waitFor(async () => processGroupGone(pgid), 15_000, `process group ${pgid} to be gone`);
}

async function readPgid(file: string): Promise<number> {
  return waitFor(
    async () => {
      const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : "";
      return /^\d+$/.test(text) ? Number(text) : undefined;
    },
    15_000,
    `${file} to hold a process id`,
  );
}

const checkpoint = (timeout: number, strategy: "reject" | "pass"): StepSpec => ({
  name: "review",
  task: "official_devcloud_checkpoint",
  inputs: [
    { key: "approvers", value: "" },
    { key: "check_strategy", value: "all" },
    { key: "timeout", value: timeout },
    { key: "timeout_strategy", value: strategy },
    { key: "comment", value: "" },
  ],
});

describe("run lifecycle", () => {
  let server: ServerProcess;
  let api: Client;
  let admin: Client;
  let pid: string;
  /** Files that scripts write outside their workspace: counters, flags, process group ids. */
  const dir = tempDir("pipewright-lifecycle-");

  beforeAll(async () => {
    server = await startServerProcess({ env: { PIPEWRIGHT_E2E_LEAK: "leaked" } });
    ({ projectId: pid, api, admin } = await setupProject(server.url));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const runsPath = (pl: string, run: string): string => `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${run}`;
  const pipeline = (def: string, extra: Record<string, unknown> = {}): Promise<string> =>
    createPipelineVia(api, pid, {
      definition: def,
      variables: [{ name: "DIR", value: dir, type: "string" }],
      ...extra,
    });
  async function start(pl: string): Promise<string> {
    const res = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
    if (res.status !== 200) throw new Error(`run: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.pipeline_run_id;
  }
  const detail = (pl: string, run: string): Promise<Detail> => runDetail(api, pid, pl, run);
  const logOf = (pl: string, run: string, job: JobNode, step = 0): Promise<string> =>
    stepLog(api, pid, pl, run, job.id, job.steps[step]!.id);
  const count = (file: string): number =>
    fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), "utf8").length : 0;

  describe("runner", () => {
    it("gives each job its own workspace as cwd, and exactly the variables and system values as environment", async () => {
      const job = (me: string, other: string) => ({
        identifier: `job_${me}`,
        steps: [
          {
            script: [
              `echo "mine-${me}" > shared.txt`,
              `touch "$DIR/ws-${me}.ready"`,
              // Both jobs hold their file at the same time: they run side by side.
              `for i in $(seq 1 200); do [ -f "$DIR/ws-${other}.ready" ] && break; sleep 0.05; done`,
              `[ -f "$DIR/ws-${other}.ready" ]`,
              `echo "sees=$(cat shared.txt)"`,
              `ls -A | grep -v '^.pipewright$' | tr '\\n' ' ' | sed 's/^/files=/'; echo`,
              `[ "$(pwd -P)" = "$(cd "$WORKSPACE" && pwd -P)" ] && echo "cwd=WORKSPACE"`,
              "for v in PIPELINE_ID PIPELINE_RUN_ID PIPELINE_RUN_NUMBER PROJECT_ID WORKSPACE JOB_RUN_ID GREETING; do",
              '  echo "$v=$(printenv "$v")"',
              "done",
              // The server's own environment stays out.
              'echo "LEAK=$(printenv PIPEWRIGHT_E2E_LEAK || echo unset)"',
            ].join("\n"),
          },
        ],
      });
      const pl = await createPipelineVia(api, pid, {
        definition: definition([{ identifier: "build", jobs: [job("a", "b"), job("b", "a")] }]),
        variables: [
          { name: "DIR", value: dir, type: "string" },
          { name: "GREETING", value: "hello world", type: "string" },
        ],
      });
      // The second run, so that a run number of 1 cannot pass by chance.
      await waitForRun(api, pid, pl, await start(pl));
      const run = await start(pl);
      const d = await waitForRun(api, pid, pl, run);
      expect(d.status).toBe("COMPLETED");
      expect(d.run_number).toBe(2);
      for (const me of ["a", "b"]) {
        const j = jobOf(d, `job_${me}`);
        const lines = (await logOf(pl, run, j)).split("\n");
        expect(lines).toContain(`sees=mine-${me}`);
        expect(lines).toContain("files=shared.txt ");
        expect(lines).toContain("cwd=WORKSPACE");
        expect(lines).toContain(`PIPELINE_ID=${pl}`);
        expect(lines).toContain(`PIPELINE_RUN_ID=${run}`);
        expect(lines).toContain("PIPELINE_RUN_NUMBER=2");
        expect(lines).toContain(`PROJECT_ID=${pid}`);
        expect(lines).toContain(`WORKSPACE=${path.join(server.dataDir, "workspaces", run, j.id)}`);
        expect(lines).toContain(`JOB_RUN_ID=${j.id}`);
        expect(lines).toContain("GREETING=hello world");
        expect(lines).toContain("LEAK=unset");
      }
    });

    it("runs scripts with bash -e: a failing command fails the step and nothing after it runs", async () => {
      const pl = await pipeline(
        definition([
          {
            identifier: "build",
            jobs: [
              {
                identifier: "job",
                steps: [
                  { script: `echo before\nsh -c 'exit 7'\necho after\ntouch "$DIR/bash-e.after"` },
                  { script: `touch "$DIR/bash-e.next-step"` },
                ],
              },
            ],
          },
          { identifier: "later", jobs: [{ identifier: "later_job", steps: [{ script: "true" }] }] },
        ]),
      );
      const run = await start(pl);
      const d = await waitForRun(api, pid, pl, run);
      expect(d.status).toBe("FAILED");
      const j = jobOf(d, "job");
      expect(j.status).toBe("FAILED");
      expect(j.message).toContain("exit code 7");
      expect(j.steps[0]!.status).toBe("FAILED");
      expect(j.steps[0]!.message).toContain("exit code 7");
      expect(j.steps[1]!.status).not.toBe("COMPLETED");
      expect(await logOf(pl, run, j)).toBe("before\n");
      expect(jobOf(d, "later_job").status).toBe("SKIPPED");
      expect(fs.existsSync(path.join(dir, "bash-e.after"))).toBe(false);
      expect(fs.existsSync(path.join(dir, "bash-e.next-step"))).toBe(false);
    });
    // Job timeouts: test/timers.test.ts (with a test clock).
  });

  describe("stop", () => {
    it("cancels a running run at once, every unfinished node with it, and kills its processes", async () => {
      const pl = await pipeline(
        definition([
          {
            identifier: "build",
            jobs: [
              {
                identifier: "long",
                steps: [
                  { script: `echo started\necho $$ > "$DIR/stop.pgid"\nsleep 1000 &\nsleep 1000` },
                  { script: `touch "$DIR/stop.step2"` },
                ],
              },
            ],
          },
          {
            identifier: "deploy",
            jobs: [{ identifier: "deploy_job", steps: [{ script: `touch "$DIR/stop.stage2"` }] }],
          },
        ]),
      );
      const run = await start(pl);
      const pgid = await readPgid(path.join(dir, "stop.pgid"));
      expect((await detail(pl, run)).status).toBe("RUNNING");

      // A running run cannot be retried.
      const retry = await api.put(`${runsPath(pl, run)}/retry`);
      expect(retry.status).toBe(409);
      expect(retry.body.error_code).toBe("DEVPIPE.00020221");

      const res = await api.post(`${runsPath(pl, run)}/stop`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      const d = await detail(pl, run);
      expect(d.status).toBe("CANCELED");
      expect(d.end_time).toBeGreaterThan(0);
      for (const node of [...stagesOf(d), ...jobsOf(d), ...stepsOf(d)]) expect(node.status).toBe("CANCELED");

      await waitGroupGone(pgid);
      // The runner's late report of the killed step must not overwrite the stop.
      const after = await waitForRun(api, pid, pl, run);
      expect(after.status).toBe("CANCELED");
      for (const node of [...stagesOf(after), ...jobsOf(after), ...stepsOf(after)])
        expect(node.status).toBe("CANCELED");
      expect(await logOf(pl, run, jobOf(after, "long"))).toBe("started\n");
      expect(fs.existsSync(path.join(dir, "stop.step2"))).toBe(false);
      expect(fs.existsSync(path.join(dir, "stop.stage2"))).toBe(false);

      // Stopping it again is an error that changes nothing.
      const again = await api.post(`${runsPath(pl, run)}/stop`);
      expect(again.status).toBe(409);
      expect(again.body.error_code).toBe("DEVPIPE.00020220");
      expect(stateOf(await detail(pl, run))).toEqual(stateOf(after));
    });

    it("answers 409 for a completed run and leaves it as it was", async () => {
      const pl = await pipeline(shellPipeline("echo done"));
      const run = await start(pl);
      const before = await waitForRun(api, pid, pl, run);
      expect(before.status).toBe("COMPLETED");
      const res = await api.post(`${runsPath(pl, run)}/stop`);
      expect(res.status).toBe(409);
      expect(res.body.error_code).toBe("DEVPIPE.00020220");
      expect(stateOf(await detail(pl, run))).toEqual(stateOf(before));
    });

    it("cancels a queued run before its script ever runs", async () => {
      const pl = await pipeline(
        shellPipeline(
          [
            `echo "$PIPELINE_RUN_NUMBER" >> "$DIR/queue.ran"`,
            `if [ "$PIPELINE_RUN_NUMBER" = 1 ]; then echo $$ > "$DIR/queue.pgid"; sleep 1000; fi`,
          ].join("\n"),
        ),
        { concurrency_control: { enable: true, concurrency_number: 1, exceed_action: "QUEUE" } },
      );
      const first = await start(pl);
      const pgid = await readPgid(path.join(dir, "queue.pgid"));
      const queued = async (): Promise<string> => {
        const res = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
        expect(res.status).toBe(200);
        expect(res.body.error_code).toBe("DEVPIPE.00011169");
        return res.body.error.pipeline_run_id;
      };
      const second = await queued();
      const third = await queued();
      // cancel-queuing names the queued run by its id or by its queuing record's id (the run's
      // number, as queued-pipeline lists it); any other id is refused and cancels nothing.
      const fourth = await queued();
      const number = (await detail(pl, fourth)).run_number;
      const cancelPath = (q: string | number) =>
        `/v5/${pid}/api/pipelines/${pl}/${fourth}/cancel-queuing/${q}`;
      expect((await api.post(cancelPath(Number(number) + 1))).status).toBe(409);
      expect((await detail(pl, fourth)).status).toBe("QUEUED");
      expect((await api.post(cancelPath(number))).body).toEqual({ success: true });
      expect((await detail(pl, fourth)).status).toBe("CANCELED");
      expect((await detail(pl, second)).status).toBe("QUEUED");

      const res = await api.post(`${runsPath(pl, second)}/stop`);
      expect(res.body).toEqual({ success: true });
      const d = await detail(pl, second);
      expect(d.status).toBe("CANCELED");
      for (const node of [...stagesOf(d), ...jobsOf(d), ...stepsOf(d)]) expect(node.status).toBe("CANCELED");

      // Freeing the slot lets the queue move on: the third run goes, the canceled second does not.
      expect((await api.post(`${runsPath(pl, first)}/stop`)).body).toEqual({ success: true });
      expect((await waitForRun(api, pid, pl, third)).status).toBe("COMPLETED");
      expect(fs.readFileSync(path.join(dir, "queue.ran"), "utf8")).toBe("1\n3\n");
      expect((await detail(pl, second)).status).toBe("CANCELED");
      await waitGroupGone(pgid);
    });
  });

  describe("retry", () => {
    it("re-runs only the failed and skipped jobs of a failed run, in the same run", async () => {
      const pl = await pipeline(
        definition([
          {
            identifier: "build",
            jobs: [
              { identifier: "A", steps: [{ script: `printf A >> "$DIR/retry.A"` }] },
              {
                identifier: "B",
                steps: [
                  {
                    script: [
                      `printf B >> "$DIR/retry.B"`,
                      `if [ ! -f "$DIR/retry.B.flag" ]; then touch "$DIR/retry.B.flag"; echo "first try fails"; exit 1; fi`,
                      `echo "second try passes"`,
                    ].join("\n"),
                  },
                ],
              },
            ],
          },
          {
            identifier: "deploy",
            jobs: [{ identifier: "C", steps: [{ script: `printf C >> "$DIR/retry.C"` }] }],
          },
        ]),
      );
      const run = await start(pl);
      const failed = await waitForRun(api, pid, pl, run);
      expect(failed.status).toBe("FAILED");
      expect(jobOf(failed, "A").status).toBe("COMPLETED");
      expect(jobOf(failed, "B").status).toBe("FAILED");
      expect(jobOf(failed, "C").status).toBe("SKIPPED");
      expect([count("retry.A"), count("retry.B"), count("retry.C")]).toEqual([1, 1, 0]);

      const res = await api.put(`${runsPath(pl, run)}/retry`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      const d = await waitForRun(api, pid, pl, run);
      expect(d.status).toBe("COMPLETED");
      expect(d.id).toBe(run);
      expect(d.run_number).toBe(failed.run_number);
      for (const id of ["A", "B", "C"]) expect(jobOf(d, id).status).toBe("COMPLETED");
      expect(jobOf(d, "A").id).toBe(jobOf(failed, "A").id);
      expect([count("retry.A"), count("retry.B"), count("retry.C")]).toEqual([1, 2, 1]);
      // The retried step's log is that of its second attempt.
      expect(await logOf(pl, run, jobOf(d, "B"))).toBe("second try passes\n");

      // The first attempt stays readable: its result, times and log, under its number.
      const b1 = jobOf(failed, "B");
      const b2 = jobOf(d, "B");
      expect(b2.attempt).toBe(2);
      expect(b2.previous_attempts).toEqual([
        {
          attempt: 1,
          status: "FAILED",
          message: b1.message,
          start_time: b1.start_time,
          end_time: b1.end_time,
          steps: [
            {
              id: expect.stringMatching(/^[0-9a-f]{32}$/),
              step_id: b1.steps[0]!.id,
              status: "FAILED",
              message: b1.steps[0]!.message,
              start_time: b1.steps[0]!.start_time,
              end_time: b1.steps[0]!.end_time,
              log_size: "first try fails\n".length,
            },
          ],
        },
      ]);
      expect(b2.start_time).toBeGreaterThanOrEqual(b1.end_time);
      const stepLogs = `${runsPath(pl, run)}/jobs/${b2.id}/steps/${b2.steps[0]!.id}/logs`;
      const logAt = (attempt?: number) =>
        api.post(stepLogs, { limit: 100, sort: "asc", ...(attempt ? { attempt } : {}) });
      expect((await logAt(1)).body).toMatchObject({ log: "first try fails\n", has_more: false });
      expect((await logAt(2)).body.log).toBe("second try passes\n");
      const none = await logAt(3);
      expect(none.status).toBe(404);
      expect(none.body.error_msg).toContain("attempts 1 to 2");
      const stream = await api.get(`${stepLogs}/stream?attempt=1`);
      expect(stream.body).toContain("first try fails");
      expect(stream.body).toContain("event: end");
      // Jobs the retry did not rerun, or that never ran before it, are on their first attempt.
      for (const id of ["A", "C"]) expect(jobOf(d, id)).toMatchObject({ attempt: 1, previous_attempts: [] });
      // The run's time spans every attempt: its start is the first attempt's.
      expect(d.start_time).toBe(failed.start_time);
      for (const st of d.stages) {
        expect(st.start_time).toBeGreaterThanOrEqual(d.start_time);
        expect(st.end_time).toBeLessThanOrEqual(d.end_time);
      }
      const list = await api.post(`/v5/${pid}/api/pipelines/${pl}/pipeline-runs/list`, {});
      expect(list.body.total).toBe(1);

      // A completed run cannot be retried, and the refusal changes nothing.
      const again = await api.put(`${runsPath(pl, run)}/retry`);
      expect(again.status).toBe(409);
      expect(again.body.error_code).toBe("DEVPIPE.00020221");
      expect(stateOf(await detail(pl, run))).toEqual(stateOf(d));
    });

    it("retries a canceled run at once, while its stopped processes are still winding down", async () => {
      const pl = await pipeline(
        shellPipeline(
          [
            `if [ -f "$DIR/cancel-retry.flag" ]; then`,
            // The second attempt needs its workspace for a while.
            "  echo second-attempt > mine.txt; sleep 1; cat mine.txt; exit 0",
            "fi",
            `touch "$DIR/cancel-retry.flag"`,
            `echo $$ > "$DIR/cancel-retry.pgid"`,
            // The first attempt takes its time to go after SIGTERM.
            "trap 'sleep 0.5; exit 1' TERM",
            "echo first-attempt",
            "sleep 1000 &",
            "wait",
          ].join("\n"),
        ),
      );
      const run = await start(pl);
      const pgid = await readPgid(path.join(dir, "cancel-retry.pgid"));
      await waitFor(async () => (await logOf(pl, run, jobOf(await detail(pl, run), "job"))) !== "");
      expect((await api.post(`${runsPath(pl, run)}/stop`)).body).toEqual({ success: true });
      expect((await detail(pl, run)).status).toBe("CANCELED");

      const res = await api.put(`${runsPath(pl, run)}/retry`);
      expect(res.body).toEqual({ success: true });
      const d = await waitForRun(api, pid, pl, run);
      expect(d.status).toBe("COMPLETED");
      expect(await logOf(pl, run, jobOf(d, "job"))).toBe("second-attempt\n");
      await waitGroupGone(pgid);
    });
  });

  describe("manual review", () => {
    const reviewPipeline = (timeout: number, strategy: "reject" | "pass", tag: string): Promise<string> =>
      pipeline(
        definition([
          {
            identifier: "gate",
            jobs: [
              {
                identifier: "approve",
                steps: [
                  checkpoint(timeout, strategy),
                  { script: `echo "after review"\ntouch "$DIR/${tag}.after"` },
                ],
              },
            ],
          },
          {
            identifier: "deploy",
            jobs: [{ identifier: "ship", steps: [{ script: `touch "$DIR/${tag}.ship"` }] }],
          },
        ]),
      );
    const decide = (pl: string, run: string, job: string, step: string, what: "pass" | "refuse", as = api) =>
      as.post(`${runsPath(pl, run)}/jobs/${job}/steps/${step}/${what}`);

    async function paused(pl: string): Promise<{ run: string; d: Detail; job: JobNode }> {
      const run = await start(pl);
      const d = await waitForRun(api, pid, pl, run, ["PAUSED"]);
      return { run, d, job: jobOf(d, "approve") };
    }

    it("pauses the run until a pass, then runs the rest", async () => {
      const pl = await reviewPipeline(3600, "reject", "review-pass");
      const { run, d, job } = await paused(pl);
      expect(job.status).toBe("PAUSED");
      const review = job.steps[0]!;
      expect(review.status).toBe("PAUSED");
      expect(review.review_deadline).toBeGreaterThan(Date.now() + 3000 * 1000);
      expect(job.steps[1]!.status).not.toBe("COMPLETED");
      expect(jobOf(d, "ship").status).toBe("INIT");
      expect(fs.existsSync(path.join(dir, "review-pass.after"))).toBe(false);

      // A viewer may look but not decide.
      const t = await admin.post("/admin/v1/tokens", { name: "viewer", role: "viewer", project_ids: [pid] });
      const viewer = client(server.url, t.body.token);
      expect((await runDetail(viewer, pid, pl, run)).status).toBe("PAUSED");
      const denied = await decide(pl, run, job.id, review.id, "pass", viewer);
      expect(denied.status).toBe(403);
      expect(denied.body.error_code).toBe("DEVPIPE.30011011");
      // Only a waiting review step takes a decision; an unknown step is not found.
      const notWaiting = await decide(pl, run, job.id, job.steps[1]!.id, "pass");
      expect(notWaiting.status).toBe(409);
      expect(notWaiting.body.error_code).toBe("DEVPIPE.00020222");
      const unknown = await decide(pl, run, job.id, "0123456789abcdef0123456789abcdef", "refuse");
      expect(unknown.status).toBe(404);
      expect(unknown.body.error_code).toBe("DEVPIPE.00020223");
      const stillPaused = await detail(pl, run);
      expect(stillPaused.status).toBe("PAUSED");
      expect(jobOf(stillPaused, "approve").steps[0]!.status).toBe("PAUSED");

      const res = await decide(pl, run, job.id, review.id, "pass");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
      const done = await waitForRun(api, pid, pl, run);
      expect(done.status).toBe("COMPLETED");
      const j = jobOf(done, "approve");
      expect(j.steps.map((s) => s.status)).toEqual(["COMPLETED", "COMPLETED"]);
      expect(await logOf(pl, run, j, 1)).toBe("after review\n");
      expect(fs.existsSync(path.join(dir, "review-pass.ship"))).toBe(true);

      const twice = await decide(pl, run, job.id, review.id, "pass");
      expect(twice.status).toBe(409);
      expect(twice.body.error_code).toBe("DEVPIPE.00020222");
    });

    it("fails the step, job and run on a refusal", async () => {
      const pl = await reviewPipeline(3600, "pass", "review-refuse");
      const { run, job } = await paused(pl);
      const res = await decide(pl, run, job.id, job.steps[0]!.id, "refuse");
      expect(res.body).toEqual({ success: true });
      const d = await waitForRun(api, pid, pl, run);
      expect(d.status).toBe("FAILED");
      const j = jobOf(d, "approve");
      expect(j.status).toBe("FAILED");
      expect(j.steps[0]!.status).toBe("FAILED");
      expect(j.steps[1]!.status).not.toBe("COMPLETED");
      expect(jobOf(d, "ship").status).toBe("SKIPPED");
      expect(fs.existsSync(path.join(dir, "review-refuse.after"))).toBe(false);
      expect(fs.existsSync(path.join(dir, "review-refuse.ship"))).toBe(false);
    });

    // Review timeouts: test/timers.test.ts (with a test clock).

    it("stops a run that waits for review", async () => {
      const pl = await reviewPipeline(3600, "reject", "review-stop");
      const { run, job } = await paused(pl);
      expect((await api.post(`${runsPath(pl, run)}/stop`)).body).toEqual({ success: true });
      const d = await detail(pl, run);
      expect(d.status).toBe("CANCELED");
      for (const node of [...jobsOf(d), ...stepsOf(d)]) expect(node.status).toBe("CANCELED");
      const late = await decide(pl, run, job.id, job.steps[0]!.id, "pass");
      expect(late.status).toBe(409);
      expect(late.body.error_code).toBe("DEVPIPE.00020222");
    });
  });
});
