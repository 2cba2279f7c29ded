// Two server replicas on one PostgreSQL database. Agents given both URLs start on different
// replicas (each picks by its name) and both take work of a batch sent to one replica; and a run
// created through one replica starts at once on an agent connected only to the other, told by
// PostgreSQL NOTIFY: there the replicas' fallback poll is a day long, so nothing else could start
// it — not after the database restarted either (the listening connection comes back).

import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstServer } from "../src/runner/agent.js";
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
  type RunnerProcess,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startRunnerProcess,
  startServerProcess,
  TERMINAL,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

/** A day: no poll looks for work within a test. */
const NO_POLL = String(24 * 3600 * 1000);

describe.skipIf(!POSTGRES_BIN)(
  `replicas on PostgreSQL: agents spread, wakeups cross${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    const servers: ServerProcess[] = [];
    const agents: RunnerProcess[] = [];
    const dir = tempDir("pipewright-spread-");

    /** Two replicas on a new database of the cluster, and a runner token. */
    async function replicas(env: Record<string, string> = {}) {
      const url = await cluster.createDatabase();
      const args = ["--no-local-runner"];
      const a = await startServerProcess({ args, env: { DATABASE_URL: url, ...env } });
      const b = await startServerProcess({ args, env: { DATABASE_URL: url, ...env } });
      servers.push(a, b);
      const admin = client(a.url, E2E_ADMIN_TOKEN);
      const t = await admin.post("/admin/v1/tokens", { name: "agents", role: "runner", project_ids: [] });
      expect(t.status).toBe(200);
      const { projectId, api } = await setupProject(a.url);
      return { url, a, b, admin, token: t.body.token as string, projectId, api };
    }
    const agent = (opts: Parameters<typeof startRunnerProcess>[0]): RunnerProcess => {
      const r = startRunnerProcess(opts);
      agents.push(r);
      return r;
    };

    beforeAll(async () => {
      cluster = await startPostgres({ durable: true });
    }, 60_000);

    afterAll(async () => {
      await Promise.all(agents.map((a) => a.kill9()));
      await Promise.all(servers.map((s) => s.kill9()));
      cluster?.stop();
    });

    it("agents given both replicas' URLs start on different ones, and both run a batch sent to one", async () => {
      const { a, b, admin, token, projectId, api } = await replicas();
      // Two names that pick different replicas of a two-URL list.
      const names = ["spread-0", "spread-1", "spread-2", "spread-3"];
      const onA = names.find((n) => firstServer(n, 2) === 0)!;
      const onB = names.find((n) => firstServer(n, 2) === 1)!;
      expect(onA && onB).toBeTruthy();
      const both = [a.url, b.url];
      const ra = agent({ server: both, token, slots: 2, name: onA });
      const rb = agent({ server: both, token, slots: 2, name: onB });
      await waitFor(
        async () => [ra, rb].every((r) => r.output().includes("registered with")),
        20_000,
        "both agents registered",
      );
      const listed = (await admin.get("/admin/v1/runners")).body.runners as {
        name: string;
        online: boolean;
      }[];
      expect(listed.map((r) => [r.name, r.online]).sort()).toEqual(
        [
          [onA, true],
          [onB, true],
        ].sort(),
      );
      expect(ra.output()).toContain(`registered with ${a.url} as ${onA}`);
      expect(rb.output()).toContain(`registered with ${b.url} as ${onB}`);

      const effects = path.join(dir, "effects");
      const n = 40;
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        ids.push(
          await createPipelineVia(api, projectId, {
            name: `spread-${i}`,
            definition: shellPipeline(`echo "$PIPELINE_RUN_ID $PWD" >> ${effects}; sleep 0.2`),
          }),
        );
      }
      const res = await api.post(`/v5/${projectId}/api/pipelines/batch-runs`, { pipeline_ids: ids });
      expect(res.status).toBe(200);
      const runs = res.body.result as { pipeline_id: string; pipeline_run_id: string }[];
      for (const r of runs) {
        const d = await waitForRun(api, projectId, r.pipeline_id, r.pipeline_run_id, TERMINAL, 120_000);
        expect(d.status).toBe("COMPLETED");
      }
      // Every run's step ran once, in the workspace of one agent or the other: both took work.
      const lines = fs.readFileSync(effects, "utf8").trim().split("\n");
      expect(lines).toHaveLength(n);
      expect(new Set(lines.map((l) => l.split(" ")[0]))).toEqual(new Set(runs.map((r) => r.pipeline_run_id)));
      const ranOn = (r: RunnerProcess) => lines.filter((l) => l.split(" ")[1]!.startsWith(r.workDir)).length;
      expect(ranOn(ra) + ranOn(rb)).toBe(n);
      expect(ranOn(ra)).toBeGreaterThan(0);
      expect(ranOn(rb)).toBeGreaterThan(0);
    }, 240_000);

    it("a run created through one replica starts on an agent of the other without a poll, also after the database restarted", async () => {
      const { url, a, b, token, projectId, api } = await replicas({ PIPEWRIGHT_DISPATCH_POLL_MS: NO_POLL });
      const apiB = api.at(b.url);
      agent({ server: b.url, token, slots: 1, name: "on-b-only" });
      // A run through B itself first: afterwards the agent's job stream is open on B and idle.
      const warm = await createPipelineVia(api, projectId, {
        name: "warm",
        definition: shellPipeline("true"),
      });
      const w = await apiB.post(`/v5/${projectId}/api/pipelines/${warm}/run`, {});
      expect(w.status).toBe(200);
      expect((await waitForRun(apiB, projectId, warm, w.body.pipeline_run_id, TERMINAL, 60_000)).status).toBe(
        "COMPLETED",
      );

      const pl = await createPipelineVia(api, projectId, { name: "told", definition: shellPipeline("true") });
      const runThroughA = async (key: string): Promise<string> => {
        // Through A only; retried with the same key while A's connections come back after a restart.
        const r = await waitFor(
          async () => {
            const res = await api.post(
              `/v5/${projectId}/api/pipelines/batch-runs`,
              { pipeline_ids: [pl] },
              { "idempotency-key": key },
            );
            return res.status === 200 ? res : undefined;
          },
          30_000,
          "a run started through replica A",
        );
        return r.body.result[0].pipeline_run_id;
      };
      const first = await runThroughA("first");
      expect((await waitForRun(api, projectId, pl, first, TERMINAL, 30_000)).status).toBe("COMPLETED");

      // The database restarts: every connection drops, the listening ones too, and come back.
      cluster.restart();
      const database = new URL(url).pathname.slice(1);
      await waitFor(
        async () => {
          const c = new pg.Client({ host: "127.0.0.1", port: cluster.port, user: "postgres", database });
          try {
            await c.connect();
            const r = await c.query(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN pipewright_ready'",
              [database],
            );
            return r.rows[0].n === 2;
          } catch {
            return false;
          } finally {
            await c.end().catch(() => {});
          }
        },
        30_000,
        "both replicas listening again",
      );
      const second = await runThroughA("second");
      expect((await waitForRun(api, projectId, pl, second, TERMINAL, 30_000)).status).toBe("COMPLETED");
      expect(a.proc.exitCode).toBeNull();
      expect(b.proc.exitCode).toBeNull();
      expect(b.output()).toContain("lost the database connection that listens for other replicas' wakeups");
    }, 180_000);
  },
);
