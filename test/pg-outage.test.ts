// A server on PostgreSQL rides out a database restart (issue 18 item 1): `pg_ctl restart -m
// immediate` drops every connection, idle and checked out, while a run is under way. The server
// must not exit (an 'error' event with no listener used to end it), must answer again once the
// database is back, and the run under way and new runs must complete, none lost or run twice.

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
  createPipelineVia,
  type ServerProcess,
  setupProject,
  shellPipeline,
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
