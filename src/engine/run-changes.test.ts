// The engine's pure change builders: what stop, retry, a review decision, a lease running out, a
// runner's job report and a restart change in a run's records. Like plan.test.ts, no store.

import { describe, expect, it } from "vitest";
import { claim, env, finish, job, newId, newRun, nextSeq, sh, stage, step } from "../../test/helpers/runs.js";
import { PipewrightError } from "../errors.js";
import type { RunGraph } from "../store/run-records.js";
import { applyChanges } from "./graph.js";
import { jobFinishedChanges } from "./job-reports.js";
import { leaseExpiryChanges } from "./leases.js";
import { INTERRUPTED_MESSAGE, interruptedChanges } from "./recovery.js";
import { decisionChanges, timeoutChanges } from "./review.js";
import { retryChanges, stopChanges } from "./run-commands.js";

const BOB = { id: "bob-token", name: "bob" };

const twoStages = () =>
  step(
    newRun({
      stages: [
        { name: "a", identifier: "a", jobs: [sh("j1"), sh("j2")] },
        { name: "b", identifier: "b", jobs: [sh("j3")] },
      ],
    }),
  );

/** Applies the changes, then lets the planner go on, as the run writer does. */
const apply = (g: RunGraph, c: ReturnType<typeof stopChanges> | null): RunGraph =>
  step(applyChanges(g, c ?? {}));

function refusal(fn: () => unknown): PipewrightError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PipewrightError);
    return err as PipewrightError;
  }
  throw new Error("expected a refusal");
}

const review = (timeout: number, strategy: "reject" | "pass") => ({
  name: "approve",
  identifier: "approve",
  steps: [
    {
      name: "review",
      identifier: "review",
      task: "official_devcloud_checkpoint",
      inputs: [
        { key: "timeout", value: timeout },
        { key: "timeout_strategy", value: strategy },
      ],
    },
    {
      name: "after",
      identifier: "after",
      task: "official_shell_plugin",
      inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
    },
  ],
});

describe("stopChanges", () => {
  it("cancels the run and every unfinished stage, job and step; finished ones keep their state", () => {
    let g = claim(twoStages(), "j1");
    g = finish(g, "j2", "COMPLETED");
    const c = stopChanges(g, "alice", 5000);
    g = apply(g, c);
    expect(g.run).toMatchObject({
      status: "CANCELED",
      stop_requested: true,
      end_time: 5000,
      message: "stopped by alice",
    });
    expect(job(g, "j1")).toMatchObject({ status: "CANCELED", message: "stopped by alice", end_time: 5000 });
    expect(job(g, "j2").status).toBe("COMPLETED");
    expect(job(g, "j3").status).toBe("CANCELED");
    expect(stage(g, "a").status).toBe("CANCELED");
    expect(stage(g, "b").status).toBe("CANCELED");
    expect(job(g, "j2").end_time).toBe(3000);
  });

  it("refuses a run that has ended", () => {
    let g = twoStages();
    g = finish(finish(g, "j1", "COMPLETED"), "j2", "COMPLETED");
    g = finish(g, "j3", "COMPLETED");
    expect(g.run.status).toBe("COMPLETED");
    const e = refusal(() => stopChanges(g, "alice", 5000));
    expect(e.key).toBe("RUN_NOT_STOPPABLE");
    expect(e.message).toContain("COMPLETED");
  });
});

describe("retryChanges", () => {
  it("queues the run again, keeping the attempt of each job it resets that ran", () => {
    let g = finish(finish(twoStages(), "j1", "COMPLETED"), "j2", "FAILED");
    expect(g.run.status).toBe("FAILED");
    expect(job(g, "j3").status).toBe("SKIPPED");
    const failed = job(g, "j2");
    const c = retryChanges(g, 6000, nextSeq, newId);
    // j2 ran: kept as attempt 1, with its steps; j3 never started: nothing to keep.
    expect(c.keepAttempts).toEqual([
      {
        id: expect.any(String),
        run_id: g.run.id,
        job_id: failed.id,
        attempt: 1,
        status: "FAILED",
        message: failed.message,
        start_time: failed.start_time,
        end_time: failed.end_time,
        steps: g.steps
          .filter((s) => s.job_id === failed.id)
          .map((s) => expect.objectContaining({ step_id: s.id, status: s.status, start_time: s.start_time })),
      },
    ]);
    expect(c.clearLogsOf ?? []).toEqual([]);
    g = applyChanges(g, c);
    expect(job(g, "j2").run_attempt).toBe(2);
    expect(job(g, "j3").run_attempt).toBe(1);
    expect(g.run).toMatchObject({
      status: "QUEUED",
      admitted: false,
      end_time: 0,
      message: null,
      stop_requested: false,
    });
    expect(job(g, "j1").status).toBe("COMPLETED");
    expect(job(g, "j2")).toMatchObject({ status: "INIT", next_step: 0, runner_id: null, message: null });
    expect(job(g, "j3").status).toBe("INIT");
    expect(stage(g, "a").status).toBe("INIT");
    // Admitted again, the planner queues only the job that failed.
    g = step(applyChanges(g, { run: { id: g.run.id, admitted: true } }));
    expect(job(g, "j1").status).toBe("COMPLETED");
    expect(job(g, "j2").status).toBe("QUEUED");
    expect(job(g, "j3").status).toBe("INIT");
  });

  it("refuses a run that is not FAILED or CANCELED, and one that never started", () => {
    expect(refusal(() => retryChanges(twoStages(), 6000, nextSeq, newId)).key).toBe("RUN_NOT_RETRYABLE");
    const never = {
      ...twoStages(),
      run: { ...twoStages().run, status: "FAILED" as const, start_status: "START_FAILED" as const },
    };
    expect(refusal(() => retryChanges(never, 6000, nextSeq, newId)).message).toContain("never started");
  });
});

describe("review decisions", () => {
  const paused = (strategy: "reject" | "pass" = "reject") =>
    step(newRun({ stages: [{ name: "g", identifier: "g", jobs: [review(60, strategy)] }] }));

  it("waits at the review with a deadline from its timeout", () => {
    const g = paused();
    const r = g.steps.find((s) => s.identifier === "review")!;
    expect(r).toMatchObject({ status: "PAUSED", deadline: env.now + 60_000 });
    expect(job(g, "approve").status).toBe("PAUSED");
    expect(g.run.status).toBe("PAUSED");
  });

  it("a pass completes the step and queues the job for its next step", () => {
    let g = paused();
    const r = g.steps.find((s) => s.identifier === "review")!;
    g = apply(g, decisionChanges(g, job(g, "approve").id, r.id, "pass", BOB, 7000, nextSeq));
    expect(g.steps.find((s) => s.id === r.id)).toMatchObject({
      status: "COMPLETED",
      message: "approved by bob",
      deadline: null,
    });
    expect(job(g, "approve")).toMatchObject({ status: "QUEUED", next_step: 1 });
  });

  it("a refusal fails the step, the job and the run", () => {
    let g = paused();
    const r = g.steps.find((s) => s.identifier === "review")!;
    g = apply(g, decisionChanges(g, job(g, "approve").id, r.id, "refuse", BOB, 7000, nextSeq));
    expect(g.steps.find((s) => s.id === r.id)).toMatchObject({ status: "FAILED", message: "refused by bob" });
    expect(job(g, "approve").status).toBe("FAILED");
    expect(g.run.status).toBe("FAILED");
  });

  it("refuses a decision on a step that does not wait for one, or is not in the run", () => {
    const g = paused();
    const after = g.steps.find((s) => s.identifier === "after")!;
    expect(
      refusal(() => decisionChanges(g, job(g, "approve").id, after.id, "pass", BOB, 7000, nextSeq)).key,
    ).toBe("STEP_NOT_WAITING");
    expect(
      refusal(() => decisionChanges(g, job(g, "approve").id, "x".repeat(32), "pass", BOB, 7000, nextSeq)).key,
    ).toBe("JOB_NOT_FOUND");
  });

  it("lets the timeout strategy decide a review nobody decided", () => {
    for (const [strategy, status, message] of [
      ["reject", "FAILED", "refused: review timed out"],
      ["pass", "COMPLETED", "approved: review timed out"],
    ] as const) {
      const g = paused(strategy);
      const r = g.steps.find((s) => s.identifier === "review")!;
      const after = applyChanges(g, timeoutChanges(g, r.id, 70_000, nextSeq)!);
      expect(after.steps.find((s) => s.id === r.id)).toMatchObject({ status, message });
    }
    // A review already decided is left alone.
    const g = paused();
    const r = g.steps.find((s) => s.identifier === "review")!;
    const decided = apply(g, decisionChanges(g, job(g, "approve").id, r.id, "pass", BOB, 7000, nextSeq));
    expect(timeoutChanges(decided, r.id, 70_000, nextSeq)).toBeNull();
  });
});

describe("leaseExpiryChanges", () => {
  const running = () => claim(twoStages(), "j1");
  const confirmed = (g: RunGraph) =>
    applyChanges(g, { jobs: [{ id: job(g, "j1").id, heartbeat_time: 2500 }] });

  it("sends a confirmed job back once, from the step it was on, with fresh logs for its open steps", () => {
    const g = confirmed(running());
    const j = job(g, "j1");
    const c = leaseExpiryChanges(g, j, 9000, nextSeq)!;
    const after = applyChanges(g, c);
    expect(job(after, "j1")).toMatchObject({
      status: "REDISPATCH",
      lost: 1,
      runner_id: null,
      lease_expires: null,
      pgid: null,
    });
    expect(job(after, "j1").message).toBe("runner r1 was lost (no heartbeat); dispatched again");
    const open = g.steps.filter((s) => s.job_id === j.id).map((s) => s.id);
    expect(c.clearLogsOf).toEqual(open);
    for (const id of open) expect(after.steps.find((s) => s.id === id)!.status).toBe("INIT");
  });

  it("fails a job lost a second time", () => {
    let g = confirmed(running());
    g = applyChanges(g, leaseExpiryChanges(g, job(g, "j1"), 9000, nextSeq)!);
    g = confirmed(claim(g, "j1", "r2"));
    const after = apply(g, leaseExpiryChanges(g, job(g, "j1"), 12_000, nextSeq));
    expect(job(after, "j1")).toMatchObject({ status: "FAILED", lost: 2, end_time: 12_000 });
    expect(job(after, "j1").message).toBe("runner r2 was lost (no heartbeat) a second time; the job failed");
  });

  it("does not count a claim that was never confirmed", () => {
    const g = running();
    const after = applyChanges(g, leaseExpiryChanges(g, job(g, "j1"), 9000, nextSeq)!);
    expect(job(after, "j1")).toMatchObject({ status: "REDISPATCH", lost: 0 });
    expect(job(after, "j1").message).toBe("runner r1 never confirmed the job; dispatched again");
  });

  it("leaves a job that another attempt holds, or that was stopped", () => {
    const g = confirmed(running());
    const stale = { id: job(g, "j1").id, attempt: job(g, "j1").attempt - 1 };
    expect(leaseExpiryChanges(g, stale, 9000, nextSeq)).toBeNull();
    const stopped = applyChanges(g, stopChanges(g, "alice", 8000));
    expect(leaseExpiryChanges(stopped, job(g, "j1"), 9000, nextSeq)).toBeNull();
  });
});

describe("jobFinishedChanges", () => {
  it("completes a job whose steps all ran, and lets the stage go on", () => {
    const g = claim(twoStages(), "j1");
    const j = job(g, "j1");
    const after = apply(
      g,
      jobFinishedChanges(g, j, { status: "COMPLETED", nextStep: 1, message: null }, 4000, nextSeq),
    );
    expect(job(after, "j1")).toMatchObject({ status: "COMPLETED", next_step: 1 });
  });

  it("fails a job with the runner's message and step", () => {
    const g = claim(twoStages(), "j1");
    const after = apply(
      g,
      jobFinishedChanges(
        g,
        job(g, "j1"),
        { status: "FAILED", nextStep: 0, message: "exit code 3" },
        4000,
        nextSeq,
      ),
    );
    expect(job(after, "j1")).toMatchObject({ status: "FAILED", message: "exit code 3", end_time: 4000 });
  });

  it("fences out a report from an attempt that no longer holds the job, or from another runner", () => {
    const g = claim(twoStages(), "j1");
    const done = { status: "COMPLETED" as const, nextStep: 1, message: null };
    const old = { id: job(g, "j1").id, attempt: 0, runner_id: "r1" };
    expect(jobFinishedChanges(g, old, done, 4000, nextSeq)).toBeNull();
    const other = { id: job(g, "j1").id, attempt: job(g, "j1").attempt, runner_id: "r2" };
    expect(jobFinishedChanges(g, other, done, 4000, nextSeq)).toBeNull();
    expect(jobFinishedChanges(g, job(g, "j1"), done, 4000, nextSeq)).not.toBeNull();
    const stopped = applyChanges(g, stopChanges(g, "alice", 3500));
    expect(
      jobFinishedChanges(
        stopped,
        job(g, "j1"),
        { status: "COMPLETED", nextStep: 1, message: null },
        4000,
        nextSeq,
      ),
    ).toBeNull();
  });
});

describe("interruptedChanges", () => {
  it("fails a running job and its running steps as interrupted, and says so on the run", () => {
    let g = claim(twoStages(), "j1");
    const s0 = g.steps.find((s) => s.job_id === job(g, "j1").id)!;
    g = applyChanges(g, { steps: [{ id: s0.id, status: "RUNNING" }] });
    const after = apply(g, interruptedChanges(g, job(g, "j1").id, INTERRUPTED_MESSAGE, 8000));
    expect(job(after, "j1")).toMatchObject({ status: "FAILED", message: INTERRUPTED_MESSAGE });
    expect(after.steps.find((s) => s.id === s0.id)).toMatchObject({
      status: "FAILED",
      message: INTERRUPTED_MESSAGE,
    });
    expect(after.run.message).toBe(INTERRUPTED_MESSAGE);
    expect(interruptedChanges(after, job(g, "j1").id, INTERRUPTED_MESSAGE, 9000)).toBeNull();
  });
});
