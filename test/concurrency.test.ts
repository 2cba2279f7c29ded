// Concurrency over HTTP against real server processes: per-pipeline concurrency control (QUEUE,
// ABORT, stopping a queued run) and the global runner slot limit.
// Runs are held open by gate files, never by timing; checks are about order and counts.

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
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "pw-conc-"));

const lines = (file: string): string[] =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];

/**
 * A script that writes "start N" to the order file, waits (bounded) for the gate file, then writes
 * "end N"; N is the run number.
 */
const gatedScript = (order: string, gate: string): string =>
  `echo "start $PIPELINE_RUN_NUMBER" >> "${order}"; ` +
  `for i in $(seq 1 400); do [ -e "${gate}" ] && break; sleep 0.05; done; [ -e "${gate}" ]; ` +
  `echo "end $PIPELINE_RUN_NUMBER" >> "${order}"`;

describe("concurrency control", () => {
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

  /** A gated pipeline with the given concurrency control, and its order and gate files. */
  const gatedPipeline = async (exceed_action: "QUEUE" | "ABORT", concurrency_number = 1) => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, `${exceed_action.toLowerCase()}-`));
    const order = path.join(dir, "order");
    const gate = path.join(dir, "gate");
    const id = await createPipelineVia(api, pid, {
      definition: shellPipeline(gatedScript(order, gate)),
      concurrency_control: { concurrency_number, exceed_action, enable: true },
    });
    return { id, order, gate, open: () => fs.writeFileSync(gate, "") };
  };

  const run = (pipelineId: string) => api.post(`/v5/${pid}/api/pipelines/${pipelineId}/run`, {});
  const started = (order: string, n: number) =>
    waitFor(async () => lines(order).includes(`start ${n}`), 20_000, `run ${n} to start`);

  it("QUEUE: extra runs answer 200 with DEVPIPE.00011169 beside their id, wait QUEUED in position, then run first come first served", async () => {
    const p = await gatedPipeline("QUEUE");
    try {
      const first = await run(p.id);
      expect(first.status).toBe(200);
      await started(p.order, 1);

      const queued: string[] = [];
      for (const position of [1, 2]) {
        const res = await run(p.id);
        // As the cloud answers it: a success that carries the queuing code and the run's id.
        expect(res.status).toBe(200);
        expect(res.body.error_code).toBe("DEVPIPE.00011169");
        expect(res.body.error_msg).toContain("queued");
        expect(res.body.pipeline_run_id).toMatch(/^[0-9a-f]{32}$/);
        expect(res.body.error.pipeline_run_id).toBe(res.body.pipeline_run_id);
        expect(res.body.error.queue_id).toMatch(/^[0-9a-f]{32}$/);
        const d = await runDetail(api, pid, p.id, res.body.error.pipeline_run_id);
        expect(d.status).toBe("QUEUED");
        expect(d.queue_position).toBe(position);
        expect(d.queue_id).toBe(res.body.error.queue_id);
        queued.push(res.body.error.pipeline_run_id);
      }
      // The first queued run is still first in line.
      expect((await runDetail(api, pid, p.id, queued[0])).queue_position).toBe(1);
      const waiting = await api.post(`/v5/${pid}/api/pipelines/${p.id}/pipeline-runs/list`, {
        status: ["QUEUED"],
      });
      expect(waiting.body.total).toBe(2);
      // The pipeline's queue (ListPipelineQueue): the waiting runs, first first, as the model has them.
      const queue = await api.get(`/v5/${pid}/api/pipelines/${p.id}/queued-pipeline?offset=0&limit=10`);
      expect(queue.status).toBe(200);
      expect(Object.keys(queue.body).sort()).toEqual(["limit", "offset", "queuedPipelines", "total"]);
      expect(queue.body.total).toBe(2);
      expect(queue.body.queuedPipelines.map((q: { pipeline_run_id: string }) => q.pipeline_run_id)).toEqual(
        queued,
      );
      const head = queue.body.queuedPipelines[0];
      expect(Object.keys(head).sort()).toEqual(
        [
          "creator_id",
          "creator_name",
          "enqueue_time",
          "id",
          "pipeline_id",
          "pipeline_run_id",
          "region",
          "status",
          "trigger_type",
        ].sort(),
      );
      expect(head).toMatchObject({ id: 2, pipeline_id: p.id, status: "QUEUED", trigger_type: "Manual" });
      expect(typeof head.enqueue_time).toBe("number");
      expect(head.creator_name).not.toBe("");
      const second = await api.get(`/v5/${pid}/api/pipelines/${p.id}/queued-pipeline?offset=1&limit=1`);
      expect(second.body.queuedPipelines.map((q: { id: number }) => q.id)).toEqual([3]);
      // Nothing of the queued runs has executed.
      expect(lines(p.order)).toEqual(["start 1"]);

      p.open();
      for (const id of [first.body.pipeline_run_id, ...queued])
        expect((await waitForRun(api, pid, p.id, id)).status).toBe("COMPLETED");
      expect(lines(p.order)).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
    } finally {
      p.open();
    }
  });

  it("QUEUE with concurrency_number 2 admits two runs at once and queues the third", async () => {
    const p = await gatedPipeline("QUEUE", 2);
    try {
      const a = await run(p.id);
      const b = await run(p.id);
      expect([a.status, b.status]).toEqual([200, 200]);
      await started(p.order, 1);
      await started(p.order, 2);
      const c = await run(p.id);
      expect(c.status).toBe(200);
      expect(c.body.error_code).toBe("DEVPIPE.00011169");
      expect((await runDetail(api, pid, p.id, c.body.error.pipeline_run_id)).queue_position).toBe(1);
      p.open();
      const d = await waitForRun(api, pid, p.id, c.body.error.pipeline_run_id);
      expect(d.status).toBe("COMPLETED");
      const seen = lines(p.order);
      expect(seen.indexOf("start 3")).toBeGreaterThan(Math.min(seen.indexOf("end 1"), seen.indexOf("end 2")));
    } finally {
      p.open();
    }
  });

  it("a queued run can be stopped: it ends CANCELED without running and the queue moves on", async () => {
    const p = await gatedPipeline("QUEUE");
    try {
      const first = await run(p.id);
      expect(first.status).toBe(200);
      await started(p.order, 1);
      const second = await run(p.id);
      const third = await run(p.id);
      expect([second.status, third.status]).toEqual([200, 200]);
      const secondId = second.body.error.pipeline_run_id;
      const thirdId = third.body.error.pipeline_run_id;

      const stop = await api.post(`/v5/${pid}/api/pipelines/${p.id}/pipeline-runs/${secondId}/stop`);
      expect(stop.status).toBe(200);
      expect(stop.body).toEqual({ success: true });
      const canceled = await runDetail(api, pid, p.id, secondId);
      expect(canceled.status).toBe("CANCELED");
      expect(canceled.stages[0].jobs[0].status).toBe("CANCELED");
      expect((await runDetail(api, pid, p.id, thirdId)).queue_position).toBe(1);

      p.open();
      expect((await waitForRun(api, pid, p.id, first.body.pipeline_run_id)).status).toBe("COMPLETED");
      expect((await waitForRun(api, pid, p.id, thirdId)).status).toBe("COMPLETED");
      expect(lines(p.order)).toEqual(["start 1", "end 1", "start 3", "end 3"]);
      expect((await runDetail(api, pid, p.id, secondId)).status).toBe("CANCELED");
    } finally {
      p.open();
    }
  });

  it("ABORT: the extra run ends IGNORED at once (single run: 409 DEVPIPE.00020224) and never executes", async () => {
    const p = await gatedPipeline("ABORT");
    try {
      const first = await run(p.id);
      expect(first.status).toBe(200);
      await started(p.order, 1);
      const extra = await run(p.id);
      expect(extra.status).toBe(409);
      expect(extra.body.error_code).toBe("DEVPIPE.00020224");
      const id = extra.body.error.pipeline_run_id;
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      const d = await runDetail(api, pid, p.id, id);
      expect(d.status).toBe("IGNORED");
      expect(d.end_time).toBeGreaterThan(0);
      expect(d.stages[0].status).toBe("IGNORED");
      expect(d.queue_position).toBeNull();
      p.open();
      expect((await waitForRun(api, pid, p.id, first.body.pipeline_run_id)).status).toBe("COMPLETED");
      expect(lines(p.order)).toEqual(["start 1", "end 1"]);
    } finally {
      p.open();
    }
  });

  it("in a batch, a run over a QUEUE limit is START_SUCCESS and waits; one over an ABORT limit is START_FAILED", async () => {
    const q = await gatedPipeline("QUEUE");
    const a = await gatedPipeline("ABORT");
    const free = await createPipelineVia(api, pid, { definition: shellPipeline("true") });
    try {
      expect((await run(q.id)).status).toBe(200);
      expect((await run(a.id)).status).toBe(200);
      await started(q.order, 1);
      await started(a.order, 1);

      const res = await api.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: [a.id, free, q.id] });
      expect(res.status).toBe(200);
      const result = res.body.result as { pipeline_id: string; pipeline_run_id: string }[];
      expect(result.map((r) => r.pipeline_id)).toEqual([a.id, free, q.id]);
      const report = await api.post(`/v5/${pid}/api/pipelines/batch-runs/result`, { query: result });
      expect(report.status).toBe(200);
      expect(report.body.result.map((r: { status: string }) => r.status)).toEqual([
        "START_FAILED",
        "START_SUCCESS",
        "START_SUCCESS",
      ]);
      expect(report.body.result[0].reason).toEqual(expect.stringContaining("ABORT"));
      expect(report.body.result[2].reason).toBeNull();

      expect((await runDetail(api, pid, a.id, result[0]!.pipeline_run_id)).status).toBe("IGNORED");
      const waiting = await runDetail(api, pid, q.id, result[2]!.pipeline_run_id);
      expect(waiting.status).toBe("QUEUED");
      expect(waiting.queue_position).toBe(1);

      q.open();
      a.open();
      expect((await waitForRun(api, pid, q.id, result[2]!.pipeline_run_id)).status).toBe("COMPLETED");
      expect(lines(q.order)).toEqual(["start 1", "end 1", "start 2", "end 2"]);
      await waitFor(async () => lines(a.order).includes("end 1"), 20_000, "the ABORT pipeline's first run");
      expect(lines(a.order)).toEqual(["start 1", "end 1"]);
    } finally {
      q.open();
      a.open();
    }
  });
});

describe("global runner slots (--runner-slots 2)", () => {
  let server: ServerProcess;
  let api: Client;
  let pid: string;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--runner-slots", "2"] });
    ({ projectId: pid, api } = await setupProject(server.url));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("never runs more than 2 jobs at once across runs, and does run 2 at once", async () => {
    const file = path.join(fs.mkdtempSync(path.join(tmpRoot, "slots-")), "events");
    const lock = `${file}.lock`;
    // Each job records its start and end under a lock; it lingers until a second job has started
    // (bounded), so two slots are seen in use whenever two exist.
    const script = [
      `flock "${lock}" -c "echo start $JOB_RUN_ID >> '${file}'"`,
      `for i in $(seq 1 100); do [ "$(grep -c start "${file}")" -ge 2 ] && break; sleep 0.05; done`,
      "sleep 0.1",
      `flock "${lock}" -c "echo end $JOB_RUN_ID >> '${file}'"`,
    ].join("\n");
    const twoJobs = definition([
      {
        identifier: "only",
        jobs: [
          { identifier: "a", steps: [{ script }] },
          { identifier: "b", steps: [{ script }] },
        ],
      },
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await createPipelineVia(api, pid, { definition: twoJobs }));
    const res = await api.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids });
    expect(res.status).toBe(200);
    for (const r of res.body.result)
      expect((await waitForRun(api, pid, r.pipeline_id, r.pipeline_run_id)).status).toBe("COMPLETED");

    const events = lines(file).map((l) => l.split(" ") as [string, string]);
    expect(events).toHaveLength(12);
    let running = 0;
    let max = 0;
    const open = new Set<string>();
    for (const [what, job] of events) {
      if (what === "start") {
        open.add(job);
        running++;
      } else {
        expect(open.delete(job)).toBe(true);
        running--;
      }
      max = Math.max(max, running);
    }
    expect(new Set(events.map(([, job]) => job)).size).toBe(6);
    expect(max).toBe(2);
  });
});

describe("fairness between projects (--runner-slots 1)", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--runner-slots", "1"] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("a single run of project B does not wait behind a 30-pipeline batch of project A", async () => {
    const a = await setupProject(server.url);
    const b = await setupProject(server.url);
    const aIds: string[] = [];
    for (let i = 0; i < 30; i++)
      aIds.push(await createPipelineVia(a.api, a.projectId, { definition: shellPipeline("sleep 0.1") }));
    const bId = await createPipelineVia(b.api, b.projectId, { definition: shellPipeline("sleep 0.1") });
    const batch = await a.api.post(`/v5/${a.projectId}/api/pipelines/batch-runs`, { pipeline_ids: aIds });
    expect(batch.status).toBe(200);
    const single = await b.api.post(`/v5/${b.projectId}/api/pipelines/${bId}/run`, {});
    expect(single.status).toBe(200);
    const bRun = await waitForRun(b.api, b.projectId, bId, single.body.pipeline_run_id, undefined, 60_000);
    expect(bRun.status).toBe("COMPLETED");
    const bStart: number = bRun.stages[0].jobs[0].start_time;
    expect(bStart).toBeGreaterThan(0);
    const aStarts: number[] = [];
    for (const r of batch.body.result) {
      const d = await waitForRun(a.api, a.projectId, r.pipeline_id, r.pipeline_run_id, undefined, 60_000);
      expect(d.status).toBe("COMPLETED");
      aStarts.push(d.stages[0].jobs[0].start_time);
    }
    // Order, not duration: B's job started before at least 25 of A's 30.
    expect(aStarts.filter((t) => t > bStart).length).toBeGreaterThanOrEqual(25);
  }, 120_000);
});
