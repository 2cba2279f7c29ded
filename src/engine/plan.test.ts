import { describe, expect, it } from "vitest";
import { env, finish, job, newRun, pipeline, sh, stage, step } from "../../test/helpers/runs.js";
import { decideStart } from "./create-runs.js";
import { applyChanges } from "./graph.js";
import { deriveRunStatus, planRun } from "./plan.js";

describe("planRun", () => {
  it("starts the first stage and queues its jobs; later stages wait", () => {
    const g = step(
      newRun({
        stages: [
          { name: "a", identifier: "a", jobs: [sh("j1"), sh("j2")] },
          { name: "b", identifier: "b", jobs: [sh("j3")] },
        ],
      }),
    );
    expect(stage(g, "a").status).toBe("RUNNING");
    expect(job(g, "j1").status).toBe("QUEUED");
    expect(job(g, "j2").status).toBe("QUEUED");
    expect(job(g, "j1").ready_seq).toBeLessThan(job(g, "j2").ready_seq);
    expect(stage(g, "b").status).toBe("INIT");
    expect(g.run.status).toBe("QUEUED");
  });

  it("runs stages in sequence and completes the run", () => {
    let g = step(
      newRun({
        stages: [
          { name: "a", identifier: "a", jobs: [sh("j1")] },
          { name: "b", identifier: "b", jobs: [sh("j2")] },
        ],
      }),
    );
    g = finish(g, "j1", "COMPLETED");
    expect(stage(g, "a").status).toBe("COMPLETED");
    expect(job(g, "j2").status).toBe("QUEUED");
    expect(g.run.status).toBe("RUNNING");
    g = finish(g, "j2", "COMPLETED");
    expect(g.run.status).toBe("COMPLETED");
    expect(g.run.end_time).toBe(2000);
  });

  it("honours job depends_on inside a stage", () => {
    let g = step(
      newRun({
        stages: [{ name: "a", identifier: "a", jobs: [sh("j1"), sh("j2", { depends_on: ["j1"] })] }],
      }),
    );
    expect(job(g, "j2").status).toBe("INIT");
    g = finish(g, "j1", "COMPLETED");
    expect(job(g, "j2").status).toBe("QUEUED");
  });

  it("marks the steps after a job's failing step SKIPPED", () => {
    const def = {
      stages: [
        {
          name: "a",
          identifier: "a",
          jobs: [
            {
              name: "j",
              identifier: "j",
              steps: ["one", "two", "three"].map((n) => ({
                name: n,
                identifier: n,
                task: "official_shell_plugin",
                inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
              })),
            },
          ],
        },
      ],
    };
    let g = step(newRun(def));
    g = applyChanges(g, {
      steps: [
        { id: g.steps[0]!.id, status: "COMPLETED" },
        { id: g.steps[1]!.id, status: "FAILED" },
      ],
    });
    g = finish(g, "j", "FAILED");
    expect(g.steps.map((s) => s.status)).toEqual(["COMPLETED", "FAILED", "SKIPPED"]);
    expect(g.run.status).toBe("FAILED");
  });

  it("skips later stages after a failure, unless run_always; the run fails", () => {
    let g = step(
      newRun({
        stages: [
          { name: "a", identifier: "a", jobs: [sh("j1")] },
          { name: "b", identifier: "b", jobs: [sh("j2")] },
          {
            name: "c",
            identifier: "c",
            run_always: true,
            jobs: [
              sh("j3"),
              sh("j4", { condition: "${{ failure() }}" }),
              sh("j5", { condition: "${{ success() }}" }),
            ],
          },
        ],
      }),
    );
    g = finish(g, "j1", "FAILED");
    expect(stage(g, "a").status).toBe("FAILED");
    expect(stage(g, "b").status).toBe("SKIPPED");
    expect(job(g, "j2").status).toBe("SKIPPED");
    expect(stage(g, "c").status).toBe("RUNNING");
    expect(job(g, "j3").status).toBe("QUEUED"); // default condition in a run_always stage
    // failure()/success() look back at the failed stage (through the skipped one, which is neutral).
    expect(job(g, "j4").status).toBe("QUEUED");
    expect(job(g, "j5").status).toBe("SKIPPED");
    g = finish(g, "j3", "COMPLETED");
    expect(g.run.status).not.toBe("FAILED");
    expect(["RUNNING", "QUEUED"]).toContain(g.run.status);
  });

  it("evaluates conditions over variables; false conditions skip the job", () => {
    const def = {
      stages: [
        {
          name: "a",
          identifier: "a",
          jobs: [
            sh("yes", { condition: "${{ variables.X == 'on' }}" }),
            sh("no", { condition: "${{ variables.X != 'on' }}" }),
          ],
        },
      ],
    };
    const g = step(newRun(def, {}, [{ name: "X", value: "ON" }]));
    expect(job(g, "yes").status).toBe("QUEUED");
    expect(job(g, "no").status).toBe("SKIPPED");
    expect(job(g, "no").message).toContain("is false");
  });

  it("leaves unselected stages and jobs UNSELECTED and still completes", () => {
    let g = step(
      newRun(
        {
          stages: [
            { name: "a", identifier: "a", jobs: [sh("j1")] },
            { name: "b", identifier: "b", jobs: [sh("j2"), sh("j3")] },
          ],
        },
        { choose_jobs: ["j2"] },
      ),
    );
    expect(stage(g, "a").status).toBe("UNSELECTED");
    expect(job(g, "j1").status).toBe("UNSELECTED");
    expect(job(g, "j3").status).toBe("UNSELECTED");
    expect(job(g, "j2").status).toBe("QUEUED");
    g = finish(g, "j2", "COMPLETED");
    expect(g.run.status).toBe("COMPLETED");
  });

  it("pauses a job at a manual review with a deadline", () => {
    const def = {
      stages: [
        {
          name: "a",
          identifier: "a",
          jobs: [
            {
              name: "r",
              identifier: "r",
              steps: [
                { name: "ok", task: "official_devcloud_checkpoint", inputs: [{ key: "timeout", value: 60 }] },
              ],
            },
          ],
        },
      ],
    };
    const g = step(newRun(def));
    expect(job(g, "r").status).toBe("PAUSED");
    expect(g.steps[0]!.status).toBe("PAUSED");
    expect(g.steps[0]!.deadline).toBe(2000 + 60_000);
    expect(g.run.status).toBe("PAUSED");
    expect(g.run.paused_since).toBe(2000);
  });

  it("does nothing to runs that are finished or not admitted", () => {
    const g = newRun({ stages: [{ name: "a", identifier: "a", jobs: [sh("j1")] }] });
    expect(planRun({ ...g, run: { ...g.run, admitted: false } }, env)).toEqual({});
    expect(planRun({ ...g, run: { ...g.run, status: "CANCELED" } }, env)).toEqual({});
  });

  it("derives the run status", () => {
    expect(deriveRunStatus([{ status: "COMPLETED" }, { status: "SKIPPED" }], [])).toBe("COMPLETED");
    expect(deriveRunStatus([{ status: "FAILED" }, { status: "SKIPPED" }], [])).toBe("FAILED");
    expect(deriveRunStatus([{ status: "CANCELED" }], [])).toBe("CANCELED");
    expect(deriveRunStatus([{ status: "RUNNING" }], [{ status: "QUEUED" }])).toBe("QUEUED");
    expect(deriveRunStatus([{ status: "RUNNING" }], [{ status: "COMPLETED" }, { status: "QUEUED" }])).toBe(
      "RUNNING",
    );
    expect(deriveRunStatus([{ status: "RUNNING" }], [{ status: "PAUSED" }])).toBe("PAUSED");
  });
});

describe("decideStart", () => {
  const cc = (exceed_action: "ABORT" | "QUEUE") =>
    pipeline(
      {},
      { concurrency_control: { concurrency_number: 1, exceed_action, enable: true, supersede: false } },
    );
  it("refuses banned pipelines", () => {
    expect(decideStart({ ...pipeline({}), banned: true }, undefined)).toMatchObject({
      kind: "refused",
      status: "FAILED",
      reason: "Current pipeline is banned.",
    });
  });
  it("admits under the limit, queues or ignores over it", () => {
    expect(decideStart(cc("QUEUE"), { admitted: 0, waiting: 0 })).toEqual({ kind: "admitted" });
    expect(decideStart(cc("QUEUE"), { admitted: 1, waiting: 0 })).toEqual({ kind: "queued" });
    expect(decideStart(cc("QUEUE"), { admitted: 0, waiting: 1 })).toEqual({ kind: "queued" });
    expect(decideStart(cc("ABORT"), { admitted: 1, waiting: 0 })).toMatchObject({
      kind: "refused",
      status: "IGNORED",
    });
    expect(decideStart(pipeline({}), { admitted: 50, waiting: 0 })).toEqual({ kind: "admitted" });
  });
});
