// The run-side store contract: graphs, fenced changes, fair claims, logs, lists and batches. A
// backend's test file calls it with a factory that opens a fresh, empty, migrated store.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunGraph } from "./run-records.js";
import type { Store } from "./store.js";
import { id, pipeline } from "./store-contract.js";

/** Run-side contract: graphs, fenced changes, fair claims, logs, lists. */
export function describeRunStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`run store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    const definition = {
      stages: [
        {
          name: "s",
          identifier: "s",
          sequence: 0,
          depends_on: [],
          run_always: false,
          extra: {},
          jobs: [
            {
              name: "j",
              identifier: "j",
              sequence: 0,
              depends_on: [],
              condition: "${{ default() }}",
              timeoutSeconds: null,
              timeout: "",
              resource: "",
              artifacts: [],
              download_artifacts: [],
              cache: null,
              extra: {},
              steps: [
                {
                  name: "t",
                  identifier: "t",
                  task: "official_shell_plugin" as const,
                  sequence: 0,
                  inputs: [],
                  extra: {},
                },
              ],
            },
          ],
        },
      ],
    };

    async function seed(
      projectId: string,
      pipelineId: string,
      n: number,
      labels: string[] = [],
    ): Promise<RunGraph[]> {
      if (!(await store.getProject(projectId)))
        await store.createProject({ id: projectId, name: projectId, create_time: 1 });
      if (!(await store.getPipeline(pipelineId)))
        await store.createPipeline({ ...pipeline(projectId, pipelineId.slice(0, 8), 1), id: pipelineId });
      const graphs: RunGraph[] = [];
      for (let i = 0; i < n; i++) {
        const num = (await store.allocateRunNumbers([pipelineId]))[0]!.run_counter;
        const runId = id();
        const jobId = id();
        graphs.push({
          run: {
            id: runId,
            pipeline_id: pipelineId,
            project_id: projectId,
            pipeline_name: "p",
            run_number: num!,
            status: "QUEUED",
            trigger_type: "Manual",
            description: "",
            executor_id: "u",
            executor_name: "u",
            start_time: 10 + i,
            end_time: 0,
            pause_time: 0,
            paused_since: null,
            admitted: true,
            queue_seq: 1000 + i,
            stop_requested: false,
            start_status: "START_SUCCESS",
            start_reason: null,
            parent_run_id: null,
            parent_pipeline_id: null,
            parent_job_id: null,
            parent_step_id: null,
            message: null,
            context: { definition, variables: [{ name: "A", value: "1", is_secret: false }], sources: [] },
            create_time: 10 + i,
            update_time: 10 + i,
            version: 0,
          },
          stages: [
            {
              id: id(),
              run_id: runId,
              idx: 0,
              identifier: "s",
              name: "s",
              status: "RUNNING",
              is_select: true,
              start_time: 1,
              end_time: 0,
            },
          ],
          jobs: [
            {
              id: jobId,
              run_id: runId,
              project_id: projectId,
              run_attempt: 1,
              stage_idx: 0,
              idx: 0,
              identifier: "j",
              name: "j",
              status: "QUEUED",
              message: null,
              is_select: true,
              next_step: 0,
              ready_seq: seqCounter++,
              attempt: 0,
              runner_id: null,
              lease_expires: null,
              labels,
              pgid: null,
              lost: 0,
              heartbeat_time: null,
              start_time: 0,
              end_time: 0,
            },
          ],
          steps: [
            {
              id: id(),
              run_id: runId,
              job_id: jobId,
              idx: 0,
              identifier: "t",
              name: "t",
              task: "official_shell_plugin",
              status: "INIT",
              message: null,
              deadline: null,
              log_bytes: 0,
              start_time: 0,
              end_time: 0,
              outputs: [],
              approvals: [],
            },
          ],
        });
      }
      await store.transaction((tx) => tx.insertRunGraphs(graphs));
      return graphs;
    }
    let seqCounter = 1;

    it("stores and reads back a run graph, definition included", async () => {
      const [g] = await seed(id(), id(), 1);
      const back = await store.getRunGraph(g!.run.id);
      expect(back).toEqual(g);
      expect((await store.getRuns([g!.run.id]))[0]).toEqual(g!.run);
      expect(await store.getRunGraph(id())).toBeUndefined();
    });

    it("claims queued jobs round-robin across projects, FIFO within one, honouring labels", async () => {
      const a = id();
      const b = id();
      const ga = await seed(a, id(), 4);
      const gb = await seed(b, id(), 2);
      await seed(a, id(), 1, ["gpu"]);
      const claimed = await store.claimJobs({
        runnerId: "r1",
        limit: 5,
        labels: [],
        now: 100,
        leaseMs: 1000,
      });
      const order = claimed.map((j) => j.id);
      // Turns: a1 b1 a2 b2 a3 — by ready order within each project; labelled job not claimable.
      expect(new Set(order)).toEqual(
        new Set([
          ga[0]!.jobs[0]!.id,
          gb[0]!.jobs[0]!.id,
          ga[1]!.jobs[0]!.id,
          gb[1]!.jobs[0]!.id,
          ga[2]!.jobs[0]!.id,
        ]),
      );
      for (const j of claimed)
        expect(j).toMatchObject({ status: "RUNNING", attempt: 1, runner_id: "r1", lease_expires: 1100 });
      const rest = await store.claimJobs({
        runnerId: "r2",
        limit: 10,
        labels: ["gpu"],
        now: 100,
        leaseMs: 1000,
      });
      expect(rest.map((j) => j.labels)).toEqual([[], ["gpu"]]);
      expect(
        await store.claimJobs({ runnerId: "r3", limit: 10, labels: ["gpu"], now: 100, leaseMs: 1000 }),
      ).toEqual([]);
    });

    it("serves the project served least recently first, so one slot at a time cannot starve a project", async () => {
      const a = id();
      const b = id();
      const ga = await seed(a, id(), 3);
      const [first] = await store.claimJobs({ runnerId: "r", limit: 1, labels: [], now: 100, leaseMs: 1000 });
      expect(first!.id).toBe(ga[0]!.jobs[0]!.id);
      const gb = await seed(b, id(), 1);
      // a's next job is older than b's, but a was just served: b goes first.
      const [second] = await store.claimJobs({
        runnerId: "r",
        limit: 1,
        labels: [],
        now: 101,
        leaseMs: 1000,
      });
      expect(second!.id).toBe(gb[0]!.jobs[0]!.id);
      const [third] = await store.claimJobs({ runnerId: "r", limit: 1, labels: [], now: 102, leaseMs: 1000 });
      expect(third!.id).toBe(ga[1]!.jobs[0]!.id);
    });

    it("keeps the turns over queues longer than one claim looks at, one job or several at a time", async () => {
      const projects = [id(), id(), id()];
      const queues: string[][] = [];
      for (const p of projects) queues.push((await seed(p, id(), 30)).map((g) => g.jobs[0]!.id));
      const taken: string[] = [];
      for (let now = 100; taken.length < 60; now++) {
        const claimed = await store.claimJobs({ runnerId: "r", limit: 1, labels: [], now, leaseMs: 1000 });
        expect(claimed).toHaveLength(1);
        const run = await store.getRun(claimed[0]!.run_id);
        expect(claimed[0]!.run_version).toBe(run!.version);
        taken.push(claimed[0]!.id);
      }
      // One slot at a time: each project in turn, each queue in order.
      const byProject = projects.map((_, i) => taken.filter((j) => queues[i]!.includes(j)));
      for (const [i, got] of byProject.entries()) expect(got).toEqual(queues[i]!.slice(0, 20));
      for (let k = 0; k + 3 <= taken.length; k += 3) {
        const round = taken.slice(k, k + 3).map((j) => queues.findIndex((q) => q.includes(j)));
        expect(new Set(round).size).toBe(3);
      }
      // Several at a time: the n-th of every project before the (n+1)-th of any.
      const many = await store.claimJobs({ runnerId: "r", limit: 7, labels: [], now: 500, leaseMs: 1000 });
      expect(
        many
          .slice(0, 6)
          .map((j) => j.id)
          .sort(),
      ).toEqual(
        [
          queues[0]![20],
          queues[1]![20],
          queues[2]![20],
          queues[0]![21],
          queues[1]![21],
          queues[2]![21],
        ].sort(),
      );
      const rest = await store.claimJobs({ runnerId: "r", limit: 100, labels: [], now: 501, leaseMs: 1000 });
      expect(rest).toHaveLength(90 - 60 - 7);
      expect(await store.claimJobs({ runnerId: "r", limit: 5, labels: [], now: 502, leaseMs: 1000 })).toEqual(
        [],
      );
    });

    it("fences job changes to the attempt that holds the job", async () => {
      const [g] = await seed(id(), id(), 1);
      const [job] = await store.claimJobs({ runnerId: "r", limit: 1, labels: [], now: 1, leaseMs: 10 });
      expect(
        await store.applyRunChanges(
          g!.run.id,
          { steps: [{ id: g!.steps[0]!.id, status: "RUNNING" }] },
          { jobId: job!.id, attempt: 2 },
        ),
      ).toBeUndefined();
      expect((await store.getRunGraph(g!.run.id))!.steps[0]!.status).toBe("INIT");
      expect(
        await store.applyRunChanges(
          g!.run.id,
          { steps: [{ id: g!.steps[0]!.id, status: "RUNNING" }] },
          { jobId: job!.id, attempt: 1 },
        ),
      ).toBe(2);
      expect((await store.getRunGraph(g!.run.id))!.steps[0]!.status).toBe("RUNNING");
    });

    it("appends and reads logs by byte offset", async () => {
      const [g] = await seed(id(), id(), 1);
      const step = g!.steps[0]!.id;
      await store.appendLog(step, 0, "héllo\n");
      await store.appendLog(step, Buffer.byteLength("héllo\n"), "world\n");
      const all = await store.readLog(step, 0);
      expect(all.map((c) => c.text).join("")).toBe("héllo\nworld\n");
      const tail = await store.readLog(step, 8);
      expect(tail[0]!.start_offset).toBe(7);
      expect((await store.getRunGraph(g!.run.id))!.steps[0]!.log_bytes).toBe(13);
    });

    it("lists runs with totals, paging and filters; finds the latest run of each pipeline", async () => {
      const p = id();
      const gs = await seed(id(), p, 5);
      const page = await store.listRuns({
        pipeline_id: p,
        offset: 1,
        limit: 2,
        sort_key: "start_time",
        sort_dir: "desc",
      });
      expect(page.total).toBe(5);
      expect(page.items.map((r) => r.run_number)).toEqual([4, 3]);
      await store.applyRunChanges(gs[0]!.run.id, { run: { id: gs[0]!.run.id, status: "FAILED" } });
      const failed = await store.listRuns({
        pipeline_id: p,
        statuses: ["FAILED"],
        offset: 0,
        limit: 10,
        sort_key: "start_time",
        sort_dir: "asc",
      });
      expect(failed.total).toBe(1);
      expect((await store.latestRuns([p, id()])).map((r) => r.run_number)).toEqual([5]);
      expect((await store.getLatestRun(p))!.id).toBe(gs[4]!.run.id);
    });

    it("keeps the runs of a batch by project and key", async () => {
      await store.insertBatch({
        project_id: "p",
        idempotency_key: "k",
        body_hash: "h",
        run_ids: ["r2", "r1"],
        create_time: 1,
      });
      expect(await store.findBatch("p", "k")).toEqual({
        project_id: "p",
        idempotency_key: "k",
        body_hash: "h",
        run_ids: ["r2", "r1"],
        create_time: 1,
      });
      expect(await store.findBatch("q", "k")).toBeUndefined();
      await expect(
        store.insertBatch({
          project_id: "p",
          idempotency_key: "k",
          body_hash: "x",
          run_ids: [],
          create_time: 2,
        }),
      ).rejects.toThrow();
    });
  });
}
