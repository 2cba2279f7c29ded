// A replica started while its PostgreSQL is down (issue 18 item 2) waits for it instead of
// exiting: it listens at once, /healthz answers 503 "starting" with the reason, every other
// request 503 DEVPIPE.00020260 with Retry-After, it retries with a growing pause, and once the
// database is back it serves, and runs complete once each. A failure waiting cannot fix (a
// database that does not exist) still ends the start at once with exit 1 and the reason; a
// SIGTERM while it waits ends it at once with 0.

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
  client,
  createPipelineVia,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

/** A password in the URL (the test cluster trusts every local login, so any is accepted). */
const PASSWORD = "s3cret-Pw-in-the-url";
const WAITING = "the database is unreachable: waiting for it";

describe.skipIf(!POSTGRES_BIN)(
  `a server started while PostgreSQL is down${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let url: string;
    const servers: ServerProcess[] = [];
    const dir = tempDir("pipewright-pg-startup-");
    const marks = path.join(dir, "marks.txt");

    beforeAll(async () => {
      cluster = await startPostgres();
      url = (await cluster.createDatabase()).replace("postgres@", `postgres:${PASSWORD}@`);
    });
    afterAll(async () => {
      for (const s of servers) await s.kill9();
      cluster?.stop();
    });

    const start = async (env: Record<string, string>): Promise<ServerProcess> => {
      const s = await startServerProcess({ env, waitForReady: false });
      servers.push(s);
      return s;
    };
    const exited = (s: ServerProcess): Promise<number | null> =>
      new Promise((resolve) =>
        s.proc.exitCode !== null ? resolve(s.proc.exitCode) : s.proc.once("exit", (code) => resolve(code)),
      );
    const failedTries = (s: ServerProcess): number => s.output().split(WAITING).length - 1;

    it("answers 503 while the database is down, keeps trying, then serves: a run completes once", async () => {
      cluster.halt();
      const server = await start({ DATABASE_URL: url });
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(503);
      const body = (await health.json()) as { ok: boolean; status: string; reason: string };
      expect(body).toMatchObject({ ok: false, status: "starting" });
      expect(body.reason).toMatch(/^database unreachable: ECONNREFUSED/);
      // Any other request: our error shape, and when to come back.
      const admin = client(server.url, E2E_ADMIN_TOKEN);
      const refused = await admin.get("/admin/v1/projects");
      expect(refused.status).toBe(503);
      expect(refused.body.error_code).toBe("DEVPIPE.00020260");
      expect(refused.body.error_msg).toContain("database unreachable");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // It keeps trying (each failed try logged once) and does not exit.
      await waitFor(async () => failedTries(server) >= 3, 60_000, "three failed tries");
      expect(server.proc.exitCode).toBeNull();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(503);

      cluster.start();
      await waitFor(
        async () => (await fetch(`${server.url}/healthz`)).status === 200,
        60_000,
        "the server to serve once the database is back",
      );
      // The line is written once it serves: its pipe may bring it after the first 200.
      await waitFor(async () => server.output().includes("listening on"), 10_000, "the listening line");
      expect(server.output()).toContain("listening on");
      expect(server.output()).toContain("the database is reachable: starting");
      const { projectId: pid, api } = await setupProject(server.url);
      const pipeline = await createPipelineVia(api, pid, {
        definition: shellPipeline(`echo "$PIPELINE_RUN_ID" >> ${marks}`),
      });
      const res = await api.post(`/v5/${pid}/api/pipelines/${pipeline}/run`, {});
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const runId = res.body.pipeline_run_id as string;
      expect((await waitForRun(api, pid, pipeline, runId, undefined, 60_000)).status).toBe("COMPLETED");
      expect(fs.readFileSync(marks, "utf8").trim().split("\n")).toEqual([runId]);
      expect(server.proc.exitCode).toBeNull();
      // The password never shows, in the log or an answer.
      expect(server.output()).not.toContain(PASSWORD);
      expect(JSON.stringify(body) + JSON.stringify(refused.body)).not.toContain(PASSWORD);
      await server.stop();
      expect(server.proc.exitCode).toBe(0);
    }, 180_000);

    it("a SIGTERM while it waits for the database ends it at once, with 0", async () => {
      cluster.halt();
      try {
        const server = await start({ DATABASE_URL: url });
        await waitFor(async () => failedTries(server) >= 1, 30_000, "a failed try");
        server.proc.kill("SIGTERM");
        expect(await exited(server)).toBe(0);
        expect(server.output()).toContain("stopping before the server has started");
      } finally {
        cluster.start();
      }
    }, 60_000);

    it("a database that does not exist ends the start at once: exit 1, saying so", async () => {
      const missing = url.replace(/\/[^/]+$/, "/no_such_database");
      const err = await start({ DATABASE_URL: missing }).then(
        () => new Error("the server started"),
        (e: Error) => e,
      );
      expect(err.message).toContain("server exited with 1");
      expect(err.message).toContain('database "no_such_database" does not exist (3D000)');
      expect(err.message).toContain("cannot use the database postgres://postgres:***@127.0.0.1:");
      expect(err.message).not.toContain(PASSWORD);
      expect(err.message).not.toContain(WAITING);
    }, 60_000);
  },
);
