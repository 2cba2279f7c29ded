// Stopping a replica that agents and browsers use (issue 18 item 5): it used to take ~75 s after
// SIGTERM, because a connection busy when the close began (a runner's job stream, a run's event
// stream, a report in flight) was kept open for the whole keep-alive timeout once its answer
// was sent, and an event stream of a run that does not end held it for ever. Now the replica
// ends every event stream (without their `end` event: clients connect again, to another
// replica), closes each connection once idle, and exits; the agent moves to the other replica,
// which takes over. Nothing is lost, run twice or left stuck. The measured stop durations are
// printed (never asserted: the vitest timeout bounds them).

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
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
  startRun,
  startRunnerProcess,
  startServerProcess,
  TERMINAL,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

/** A browser-like reader of an event stream: what it got, and whether the server ended it. */
function openEventStream(
  url: string,
  token: string,
  agent: http.Agent,
): Promise<{ text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { agent, headers: { "x-auth-token": token, accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`event stream: HTTP ${res.statusCode}`));
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        const ended = new Promise<void>((done) => {
          res.once("end", done);
          res.once("close", done);
        });
        resolve({ text: () => text, ended });
      },
    );
    req.once("error", reject);
  });
}

/** An idle kept-alive connection to the server, as a browser leaves one after a page load. */
async function idleKeepAlive(url: string, agent: http.Agent): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    http
      .get(`${url}/healthz`, { agent }, (res) => {
        res.resume();
        res.once("end", resolve);
      })
      .once("error", reject);
  });
}

/** SIGTERM, and the time until the process has exited (printed by the tests, never asserted). */
async function sigtermAndTime(s: ServerProcess): Promise<number> {
  const exited = new Promise<void>((resolve) =>
    s.proc.exitCode !== null ? resolve() : s.proc.once("exit", () => resolve()),
  );
  const t0 = performance.now();
  s.proc.kill("SIGTERM");
  await exited;
  return Math.round(performance.now() - t0);
}

describe.skipIf(!POSTGRES_BIN)(
  `stopping a replica agents and browsers use${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let dbUrl: string;
    let b: ServerProcess;
    let apiB: Client;
    let pid: string;
    let runnerToken: string;
    const others: ServerProcess[] = [];
    const runners: RunnerProcess[] = [];
    const dir = tempDir("pipewright-replica-stop-");
    const marks = path.join(dir, "marks.txt");
    const args = ["--no-local-runner"];

    beforeAll(async () => {
      cluster = await startPostgres();
      dbUrl = await cluster.createDatabase();
      b = await startServerProcess({ args, env: { DATABASE_URL: dbUrl } });
      const admin = client(b.url, E2E_ADMIN_TOKEN);
      const t = await admin.post("/admin/v1/tokens", { name: "runners", role: "runner", project_ids: [] });
      expect(t.status).toBe(200);
      runnerToken = t.body.token;
      ({ projectId: pid, api: apiB } = await setupProject(b.url));
    }, 60_000);

    afterAll(async () => {
      await Promise.all(runners.map((r) => r.kill9()));
      await Promise.all([b, ...others].map((s) => s?.kill9()));
      cluster?.stop();
    });

    const replica = async (): Promise<ServerProcess> => {
      const s = await startServerProcess({ args, env: { DATABASE_URL: dbUrl } });
      others.push(s);
      return s;
    };
    const agentOn = async (first: ServerProcess, prefix: string): Promise<RunnerProcess> => {
      // Agents start on the server their name picks: one that starts on `first`.
      const name = [1, 2, 3, 4, 5, 6, 7, 8]
        .map((n) => `${prefix}-${n}`)
        .find((n) => firstServer(n, 2) === 0)!;
      const r = startRunnerProcess({ server: [first.url, b.url], token: runnerToken, slots: 4, name });
      runners.push(r);
      await waitFor(
        async () => r.output().includes(`registered with ${first.url}`),
        20_000,
        `${name} registered`,
      );
      return r;
    };

    it("an idle replica with an agent, an event stream and an idle keep-alive connection on it stops at once", async () => {
      const a = await replica();
      const agent = await agentOn(a, "idle-agent");
      // A run no runner takes (its job asks for a label nobody has): its event stream never ends.
      const pipeline = await createPipelineVia(apiB, pid, {
        definition: definition([
          {
            identifier: "b",
            jobs: [{ identifier: "j", resource: JSON.stringify({ labels: ["nobody-has-it"] }), steps: [{}] }],
          },
        ]),
      });
      const run = await startRun(apiB, pid, pipeline);
      const keepAlive = new http.Agent({ keepAlive: true });
      const events = await openEventStream(
        `${a.url}/v5/${pid}/api/pipelines/${pipeline}/pipeline-runs/${run}/events`,
        apiB.token,
        keepAlive,
      );
      await waitFor(async () => events.text().includes("event: run"), 10_000, "the run's first event");
      await idleKeepAlive(a.url, new http.Agent({ keepAlive: true }));

      const ms = await sigtermAndTime(a);
      console.log(`idle replica (agent, event stream, idle keep-alive connection): stopped in ${ms} ms`);
      expect(a.proc.exitCode).toBe(0);
      await events.ended;
      // Ended by the stopping server, not as finished: a browser connects again (elsewhere).
      expect(events.text()).not.toContain("event: end");
      expect(agent.proc.exitCode).toBeNull();
      keepAlive.destroy();
      expect((await apiB.post(`/v5/${pid}/api/pipelines/${pipeline}/pipeline-runs/${run}/stop`)).status).toBe(
        200,
      );
      await agent.stop();
    }, 60_000);

    it("stopping the replica an agent runs jobs through: it exits, the other takes over, every run completes once", async () => {
      const a = await replica();
      const agent = await agentOn(a, "busy-agent");
      const pipelines: string[] = [];
      for (let i = 0; i < 6; i++) {
        pipelines.push(
          await createPipelineVia(apiB, pid, {
            definition: shellPipeline(`sleep 1; echo "$PIPELINE_RUN_ID" >> ${marks}`),
          }),
        );
      }
      const apiA = apiB.at(a.url);
      const runs: Array<{ pipeline: string; run: string }> = [];
      for (const p of pipelines) runs.push({ pipeline: p, run: await startRun(apiA, pid, p) });
      // The agent is at work on jobs A handed it, and a browser watches one of them on A.
      await waitFor(
        async () => (await runDetail(apiB, pid, runs[0]!.pipeline, runs[0]!.run)).status === "RUNNING",
        30_000,
        "the first run to be running",
      );
      const watching = await openEventStream(
        `${a.url}/v5/${pid}/api/pipelines/${runs[0]!.pipeline}/pipeline-runs/${runs[0]!.run}/events`,
        apiB.token,
        new http.Agent({ keepAlive: true }),
      );

      const ms = await sigtermAndTime(a);
      console.log(`replica with an agent running jobs through it: stopped in ${ms} ms`);
      expect(a.proc.exitCode).toBe(0);
      await watching.ended;

      // B takes over: the runs under way finish, new ones run, each exactly once.
      for (const p of pipelines.slice(0, 3)) runs.push({ pipeline: p, run: await startRun(apiB, pid, p) });
      for (const r of runs) {
        const d = await waitForRun(apiB, pid, r.pipeline, r.run, TERMINAL, 120_000);
        expect(d.status, `run ${r.run}`).toBe("COMPLETED");
      }
      const lines = fs.readFileSync(marks, "utf8").trim().split("\n").sort();
      expect(lines).toEqual(runs.map((r) => r.run).sort());
      expect(agent.proc.exitCode).toBeNull();
      expect(b.proc.exitCode).toBeNull();
      await agent.stop();
    }, 180_000);
  },
);
