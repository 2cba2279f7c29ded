// A server on PostgreSQL rides out database outages (issue 18).
// Item 1: `pg_ctl restart -m immediate` drops every connection, idle and checked out, while a run
// is under way. The server must not exit (an 'error' event with no listener used to end it), must
// answer again once the database is back, and the run under way and new runs must complete, none
// lost or run twice.
// Item 3: the database is down for longer than a lease while an agent's jobs finish. The agent
// cannot renew or report meanwhile; once the database is back the server must wait for the
// agent's retried reports (a lease of grace) instead of expiring every lease at its first sweep
// and running the finished work again.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  POSTGRES_BIN,
  POSTGRES_SKIP_REASON,
  type PostgresCluster,
  startPostgres,
} from "./helpers/postgres.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type RunnerProcess,
  runDetail,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startRunnerProcess,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

describe.skipIf(!POSTGRES_BIN)(
  `a database restart under a server${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let server: ServerProcess;
    let api: Client;
    let pid: string;
    const dir = tempDir("pipewright-pg-outage-");
    const marks = path.join(dir, "marks.txt");

    beforeAll(async () => {
      // Durable: what a database committed must be there after the crash-restart.
      cluster = await startPostgres({ durable: true });
      const url = await cluster.createDatabase();
      server = await startServerProcess({ env: { DATABASE_URL: url } });
      ({ projectId: pid, api } = await setupProject(server.url));
    });
    afterAll(async () => {
      await server?.stop();
      cluster?.stop();
    });

    it("keeps serving through pg_ctl restart -m immediate; runs under way and new ones complete once each", async () => {
      const pipeline = await createPipelineVia(api, pid, {
        name: "through-outage",
        definition: shellPipeline(`sleep 2; echo "$PIPELINE_RUN_ID" >> ${marks}`),
      });
      const run = async (): Promise<string> => {
        const res = await api.post(`/v5/${pid}/api/pipelines/${pipeline}/run`, {});
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body.pipeline_run_id;
      };
      const before = await run();
      await waitFor(
        async () =>
          (
            await api.get(
              `/v5/${pid}/api/pipelines/${pipeline}/pipeline-runs/detail?pipeline_run_id=${before}`,
            )
          ).body.status === "RUNNING",
        30_000,
        "the first run to start",
      );
      cluster.restart();
      // The server is still there, and answers again once the database is back.
      await waitFor(
        async () =>
          (await api.post(`/v5/${pid}/api/pipelines/list`, {}).catch(() => ({ status: 0 }))).status === 200,
        60_000,
        "the server to answer again",
      );
      expect(server.proc.exitCode).toBeNull();
      expect(server.output()).toContain("database connection lost");
      const after = await run();
      for (const id of [before, after])
        expect((await waitForRun(api, pid, pipeline, id, undefined, 120_000)).status).toBe("COMPLETED");
      const lines = fs.readFileSync(marks, "utf8").trim().split("\n").sort();
      expect(lines).toEqual([before, after].sort());
      expect(server.proc.exitCode).toBeNull();
    });
  },
);

describe.skipIf(!POSTGRES_BIN)(
  `an outage of the database longer than a lease${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let server: ServerProcess;
    let agent: RunnerProcess;
    let api: Client;
    let pid: string;
    const dir = tempDir("pipewright-pg-lease-outage-");
    const marks = path.join(dir, "marks.txt");
    const LEASE_SECONDS = 4;

    beforeAll(async () => {
      cluster = await startPostgres({ durable: true });
      const url = await cluster.createDatabase();
      server = await startServerProcess({
        env: { DATABASE_URL: url },
        args: ["--no-local-runner", "--lease-seconds", String(LEASE_SECONDS)],
      });
      const admin = client(server.url, E2E_ADMIN_TOKEN);
      const token = (await admin.post("/admin/v1/tokens", { name: "r", role: "runner", project_ids: [] }))
        .body.token;
      agent = startRunnerProcess({ server: server.url, token, slots: 8 });
      ({ projectId: pid, api } = await setupProject(server.url));
    });
    afterAll(async () => {
      await agent?.kill9();
      await server?.stop();
      cluster?.stop();
    });

    it("gives the runners a lease of grace once the database is back: finished jobs keep their results, none runs twice", async () => {
      const gate = path.join(dir, "gate");
      // Each run marks its start, waits until the database is down, marks its end.
      const pipeline = await createPipelineVia(api, pid, {
        name: "across-an-outage",
        definition: shellPipeline(
          `echo "start $PIPELINE_RUN_ID" >> ${marks}; while [ ! -e ${gate} ]; do sleep 0.1; done; echo "end $PIPELINE_RUN_ID" >> ${marks}`,
        ),
      });
      const runs: string[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await api.post(`/v5/${pid}/api/pipelines/${pipeline}/run`, {});
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        runs.push(res.body.pipeline_run_id);
      }
      const lines = (): string[] =>
        fs.existsSync(marks) ? fs.readFileSync(marks, "utf8").trim().split("\n").filter(Boolean) : [];
      await waitFor(async () => lines().length === 8, 60_000, "the 8 jobs to start on the agent");

      cluster.halt();
      fs.writeFileSync(gate, "");
      // The jobs end while nothing can be stored; the outage lasts three leases.
      await waitFor(async () => lines().length === 16, 30_000, "the 8 jobs to end");
      await new Promise((r) => setTimeout(r, 3 * LEASE_SECONDS * 1000));
      expect(server.proc.exitCode).toBeNull();
      // Meanwhile a request answers 503 that says why, with when to try again (not a 500).
      const during = await api.post(`/v5/${pid}/api/pipelines/list`, {});
      expect(during.status, JSON.stringify(during.body)).toBe(503);
      expect(during.body.error_code).toBe("DEVPIPE.00020262");
      expect(during.headers.get("retry-after")).toBe("1");
      cluster.start();

      for (const id of runs) {
        const d = await waitForRun(api, pid, pipeline, id, undefined, 120_000);
        expect(d.status, JSON.stringify(d)).toBe("COMPLETED");
      }
      // Nothing ran again: each run started and ended once, and no job was dispatched again.
      const counts = new Map<string, number>();
      for (const l of lines()) counts.set(l, (counts.get(l) ?? 0) + 1);
      expect(
        [...counts.values()].every((n) => n === 1),
        lines().join("\n"),
      ).toBe(true);
      expect(counts.size).toBe(16);
      for (const id of runs) {
        const d = await runDetail(api, pid, pipeline, id);
        const jobs = d.stages.flatMap((st: { jobs: { last_dispatch_id: string | null }[] }) => st.jobs);
        // The first dispatch is attempt 1; a job dispatched again would show -2.
        for (const j of jobs) expect(j.last_dispatch_id, JSON.stringify(j)).toMatch(/-1$/);
      }
      expect(server.output()).toContain("leases renewed once for the runners");
      expect(server.proc.exitCode).toBeNull();
    }, 180_000);

    it("sends an artifact again when the database was away at its upload: the job completes and keeps it", async () => {
      const gate = path.join(dir, "artifact-gate");
      const pipeline = await createPipelineVia(api, pid, {
        name: "artifact-across-an-outage",
        definition: definition([
          {
            identifier: "s",
            jobs: [
              {
                identifier: "build",
                artifacts: [{ name: "out", paths: ["out.txt"] }],
                steps: [{ script: `while [ ! -e ${gate} ]; do sleep 0.1; done; echo built > out.txt` }],
              },
            ],
          },
        ]),
      });
      const res = await api.post(`/v5/${pid}/api/pipelines/${pipeline}/run`, {});
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const run = res.body.pipeline_run_id as string;
      await waitFor(
        async () => (await runDetail(api, pid, pipeline, run)).status === "RUNNING",
        30_000,
        "the job to run",
      );
      // The step ends and its artifact goes up while nothing can be stored: the upload answers 503.
      cluster.halt();
      fs.writeFileSync(gate, "");
      await waitFor(
        async () => /artifact out: .*trying again/.test(agent.output()),
        30_000,
        "a refused upload",
      );
      cluster.start();
      const d = await waitForRun(api, pid, pipeline, run, undefined, 120_000);
      expect(d.status, JSON.stringify(d)).toBe("COMPLETED");
      const list = await api.get(`/v5/${pid}/api/pipelines/${pipeline}/pipeline-runs/${run}/artifacts`);
      expect(list.body.artifacts.map((a: { name: string }) => a.name)).toEqual(["out"]);
    }, 180_000);
  },
);
