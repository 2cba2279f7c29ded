// The store contract: one suite every backend must pass unchanged. A backend's test file calls
// describeStoreContract with a factory that opens a fresh, empty, migrated store.

import crypto from "node:crypto";
import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunGraph } from "./run-records.js";
import type { NewPipeline, Store } from "./store.js";

const id = (): string => crypto.randomUUID().replaceAll("-", "");

function pipeline(projectId: string, name: string, t: number): NewPipeline {
  return {
    id: id(),
    project_id: projectId,
    name,
    description: "",
    is_publish: false,
    manifest_version: "3.0",
    definition: "{}",
    spec: {
      sources: [],
      variables: [],
      schedules: [],
      triggers: [],
      concurrency_control: null,
      group_id: null,
      component_id: "",
      project_name: "",
    },
    creator_id: "u",
    creator_name: "u",
    updater_id: "u",
    create_time: t,
    update_time: t,
  };
}

export function describeStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("meta: putMetaIfAbsent keeps the first value, setMeta overwrites", async () => {
      expect(await store.getMeta("k")).toBeUndefined();
      expect(await store.putMetaIfAbsent("k", "a")).toBe("a");
      expect(await store.putMetaIfAbsent("k", "b")).toBe("a");
      await store.setMeta("k", "c");
      expect(await store.getMeta("k")).toBe("c");
    });

    it("projects: create, get, find by name, list in creation order; names are unique", async () => {
      await store.createProject({ id: "a".repeat(32), name: "one", create_time: 1 });
      await store.createProject({ id: "b".repeat(32), name: "two", create_time: 2 });
      expect(await store.getProject("a".repeat(32))).toEqual({
        id: "a".repeat(32),
        name: "one",
        create_time: 1,
      });
      expect((await store.findProjectByName("two"))?.id).toBe("b".repeat(32));
      expect((await store.listProjects()).map((p) => p.name)).toEqual(["one", "two"]);
      await expect(
        store.createProject({ id: "c".repeat(32), name: "one", create_time: 3 }),
      ).rejects.toThrow();
    });

    it("tokens: found by hash until revoked; revoke is idempotent-false", async () => {
      const rec = {
        id: id(),
        name: "ci",
        role: "operator" as const,
        project_ids: ["p1"],
        create_time: 5,
        revoked_time: null,
      };
      await store.createToken(rec, "hash1");
      expect(await store.findTokenByHash("hash1")).toEqual(rec);
      expect(await store.findTokenByHash("nope")).toBeUndefined();
      expect(await store.revokeToken(rec.id, 9)).toBe(true);
      expect(await store.revokeToken(rec.id, 10)).toBe(false);
      expect((await store.findTokenByHash("hash1"))?.revoked_time).toBe(9);
      expect((await store.listTokens()).length).toBe(1);
    });

    it("access keys: stored with their SK, revocable", async () => {
      const rec = {
        id: "AKAKAKAKAKAKAKAKAKAK",
        sk: "secret",
        name: "sdk",
        role: "viewer" as const,
        project_ids: [],
        create_time: 1,
        revoked_time: null,
      };
      await store.createAccessKey(rec);
      expect(await store.findAccessKey(rec.id)).toEqual(rec);
      expect(await store.revokeAccessKey(rec.id, 2)).toBe(true);
      expect((await store.listAccessKeys())[0]?.revoked_time).toBe(2);
    });

    it("pipelines: create, get, update, ban, delete; names unique per project", async () => {
      const pid = id();
      await store.createProject({ id: pid, name: "p", create_time: 1 });
      const p = pipeline(pid, "build", 10);
      await store.createPipeline(p);
      const got = await store.getPipeline(p.id);
      expect(got).toMatchObject({ ...p, banned: false, run_counter: 0 });
      await expect(store.createPipeline({ ...pipeline(pid, "build", 11) })).rejects.toThrow();
      expect((await store.findPipelineByName(pid, "build"))?.id).toBe(p.id);
      expect(
        await store.updatePipeline(p.id, {
          name: "build2",
          description: "d",
          is_publish: true,
          manifest_version: "3.0",
          definition: '{"x":1}',
          spec: p.spec,
          updater_id: "v",
          update_time: 20,
        }),
      ).toBe(true);
      expect(await store.getPipeline(p.id)).toMatchObject({
        name: "build2",
        is_publish: true,
        definition: '{"x":1}',
        update_time: 20,
      });
      expect(await store.setPipelineBanned(p.id, true, 30)).toBe(true);
      expect((await store.getPipeline(p.id))?.banned).toBe(true);
      expect((await store.getPipelines([p.id, id()])).length).toBe(1);
      expect(await store.deletePipeline(p.id)).toBe(true);
      expect(await store.getPipeline(p.id)).toBeUndefined();
      expect(await store.deletePipeline(p.id)).toBe(false);
    });

    it("pipelines: list filters by name (literal, case-insensitive), banned; sorts and pages", async () => {
      const pid = id();
      await store.createProject({ id: pid, name: "p", create_time: 1 });
      const names = ["alpha", "Beta", "gamma_1", "gamma%2", "delta"];
      for (const [i, n] of names.entries()) await store.createPipeline(pipeline(pid, n, 100 + i));
      const other = id();
      await store.createProject({ id: other, name: "other", create_time: 1 });
      await store.createPipeline(pipeline(other, "alpha", 1));
      const q = {
        project_id: pid,
        offset: 0,
        limit: 10,
        sort_key: "name" as const,
        sort_dir: "asc" as const,
      };
      const all = await store.listPipelines(q);
      expect(all.total).toBe(5);
      expect(all.items.map((p) => p.name)).toEqual(["Beta", "alpha", "delta", "gamma%2", "gamma_1"].sort());
      expect((await store.listPipelines({ ...q, name: "BET" })).items.map((p) => p.name)).toEqual(["Beta"]);
      expect((await store.listPipelines({ ...q, name: "a%" })).items.map((p) => p.name)).toEqual(["gamma%2"]);
      expect((await store.listPipelines({ ...q, name: "a_" })).items.map((p) => p.name)).toEqual(["gamma_1"]);
      const page = await store.listPipelines({
        ...q,
        sort_key: "create_time",
        sort_dir: "desc",
        offset: 1,
        limit: 2,
      });
      expect(page.total).toBe(5);
      expect(page.items.map((p) => p.name)).toEqual(["gamma%2", "gamma_1"]);
      const alpha = (await store.findPipelineByName(pid, "alpha"))!;
      await store.setPipelineBanned(alpha.id, true, 1);
      expect((await store.listPipelines({ ...q, banned: true })).items.map((p) => p.name)).toEqual(["alpha"]);
      expect((await store.listPipelines({ ...q, banned: false })).total).toBe(4);
    });
  });
}

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
            message: null,
            context: { definition, variables: [{ name: "A", value: "1", is_secret: false }], sources: [] },
            create_time: 10 + i,
            update_time: 10 + i,
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

    it("fences job changes to the attempt that holds the job", async () => {
      const [g] = await seed(id(), id(), 1);
      const [job] = await store.claimJobs({ runnerId: "r", limit: 1, labels: [], now: 1, leaseMs: 10 });
      expect(
        await store.applyRunChanges(
          { steps: [{ id: g!.steps[0]!.id, status: "RUNNING" }] },
          { jobId: job!.id, attempt: 2 },
        ),
      ).toBe(false);
      expect((await store.getRunGraph(g!.run.id))!.steps[0]!.status).toBe("INIT");
      expect(
        await store.applyRunChanges(
          { steps: [{ id: g!.steps[0]!.id, status: "RUNNING" }] },
          { jobId: job!.id, attempt: 1 },
        ),
      ).toBe(true);
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
      await store.applyRunChanges({ run: { id: gs[0]!.run.id, status: "FAILED" } });
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

/** A database migrated only up to `migration`, and a way to open it as a Store (migrating the rest). */
export interface LegacyDatabase {
  readonly db: Kysely<unknown>;
  open(): Promise<Store>;
}

/** Migrations carry the data of earlier schemas forward; run against every backend. */
export function describeMigrationContract(
  name: string,
  openAt: (migration: string) => Promise<LegacyDatabase>,
): void {
  describe(`migrations: ${name}`, () => {
    it("003 keeps the runs of batches stored before it, in request order", async () => {
      const legacy = await openAt("002_runs");
      const answer = {
        result: [
          { pipeline_id: "a".repeat(32), pipeline_run_id: "r2" },
          { pipeline_id: "b".repeat(32), pipeline_run_id: "r1" },
          { pipeline_id: "c".repeat(32), pipeline_run_id: "r3" },
        ],
      };
      await sql`INSERT INTO batches (project_id, idempotency_key, body_hash, response, create_time)
        VALUES ('p', 'k', 'h', ${JSON.stringify(answer)}, 1)`.execute(legacy.db);
      await legacy.db.destroy();
      const store = await legacy.open();
      try {
        expect(await store.findBatch("p", "k")).toEqual({
          project_id: "p",
          idempotency_key: "k",
          body_hash: "h",
          run_ids: ["r2", "r1", "r3"],
          create_time: 1,
        });
      } finally {
        await store.close();
      }
    });
  });
}
