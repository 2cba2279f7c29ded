// Runner agents against a real server: stop within a heartbeat, jobs going on while the server
// restarts (results reported when it is back), and draining on SIGTERM.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstServer } from "../src/runner/agent.js";
import { tempDir } from "./helpers/app.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  processGroupGone,
  type RunnerProcess,
  runDetail,
  type ServerProcess,
  setupProject,
  startRunnerProcess,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** A one-job pipeline that only a runner with `label` takes. */
const labelled = (label: string, script: string): string =>
  definition([
    {
      identifier: "s",
      jobs: [{ identifier: "j", resource: JSON.stringify({ labels: [label] }), steps: [{ script }] }],
    },
  ]);

describe("runner agents", () => {
  let server: ServerProcess;
  const runners: RunnerProcess[] = [];
  let api: Client;
  let pid: string;
  let token: string;
  let port: number;
  const dataDir = tempDir("pipewright-agent-");
  const dir = tempDir("pipewright-agent-files-");
  const args = ["--no-local-runner", "--lease-seconds", "3"];

  beforeAll(async () => {
    port = await freePort();
    server = await startServerProcess({ dataDir, port, args });
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    token = (await admin.post("/admin/v1/tokens", { name: "r", role: "runner", project_ids: [] })).body.token;
    ({ projectId: pid, api } = await setupProject(server.url));
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.kill9()));
    await server?.kill9();
  });

  it("stops a job running on an agent within a heartbeat; its processes are gone", async () => {
    runners.push(startRunnerProcess({ server: server.url, token, labels: ["stop"], slots: 2 }));
    const pgidFile = path.join(dir, "stop.pgid");
    const p = await createPipelineVia(api, pid, {
      definition: labelled("stop", `echo $$ > ${pgidFile}; sleep 1000 & sleep 1000`),
    });
    const run = (await api.post(`/v5/${pid}/api/pipelines/${p}/run`, {})).body.pipeline_run_id;
    await waitFor(
      async () => fs.existsSync(pgidFile) && fs.readFileSync(pgidFile, "utf8").trim() !== "",
      30_000,
      "the step to start",
    );
    const pgid = Number(fs.readFileSync(pgidFile, "utf8").trim());
    expect((await api.post(`/v5/${pid}/api/pipelines/${p}/pipeline-runs/${run}/stop`)).body).toEqual({
      success: true,
    });
    expect((await runDetail(api, pid, p, run)).status).toBe("CANCELED");
    await waitFor(async () => processGroupGone(pgid), 15_000, `process group ${pgid} to be gone`);
    // The agent is free again: a new job of the same label runs.
    const ok = await createPipelineVia(api, pid, { definition: labelled("stop", "echo again") });
    const r2 = (await api.post(`/v5/${pid}/api/pipelines/${ok}/run`, {})).body.pipeline_run_id;
    expect((await waitForRun(api, pid, ok, r2)).status).toBe("COMPLETED");
  }, 90_000);

  it("takes every --server given, tries them in turn, and its log names the one that failed", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    // A name that starts on the first URL of two (agents spread over their list by name).
    const name = ["two-a", "two-b", "two-c", "two-d"].find((n) => firstServer(n, 2) === 0)!;
    const r = startRunnerProcess({
      server: [dead, server.url],
      token,
      labels: ["two-servers"],
      slots: 1,
      name,
    });
    runners.push(r);
    const p = await createPipelineVia(api, pid, {
      definition: labelled("two-servers", "echo via the second"),
    });
    const run = (await api.post(`/v5/${pid}/api/pipelines/${p}/run`, {})).body.pipeline_run_id;
    expect((await waitForRun(api, pid, p, run)).status).toBe("COMPLETED");
    // The first server refused the connection; the log says which server that was.
    expect(r.output()).toContain(`${dead}: connect ECONNREFUSED`);
    expect(r.output()).toContain(`registered with ${server.url}`);
    // Nothing of the finished job is left in the work dir: neither its workspace nor its run's.
    await waitFor(
      async () => fs.readdirSync(path.join(r.workDir, "work")).length === 0,
      10_000,
      "the work dir to be empty",
    );
  }, 90_000);

  it("keeps running a job while the server restarts, and reports its result when it is back", async () => {
    runners.push(startRunnerProcess({ server: server.url, token, labels: ["restart"], slots: 1 }));
    const started = path.join(dir, "restart.started");
    const go = path.join(dir, "restart.go");
    const p = await createPipelineVia(api, pid, {
      definition: labelled(
        "restart",
        `touch ${started}; while [ ! -f ${go} ]; do sleep 0.1; done; echo finished while you were away`,
      ),
    });
    const run = (await api.post(`/v5/${pid}/api/pipelines/${p}/run`, {})).body.pipeline_run_id;
    await waitFor(async () => fs.existsSync(started), 30_000, "the step to start");
    await server.kill9();
    // The job finishes while no server answers; the agent keeps retrying its reports.
    fs.writeFileSync(go, "");
    await new Promise((r) => setTimeout(r, 1000));
    server = await startServerProcess({ dataDir, port, args });
    // The same data dir and port: tokens and runs are all still there.
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const d = await waitForRun(admin, pid, p, run, ["COMPLETED", "FAILED"], 60_000);
    expect(d.status).toBe("COMPLETED");
    // One attempt: the job was not sent to anyone else meanwhile.
    expect(d.stages[0].jobs[0].last_dispatch_id).toMatch(/-1$/);
    const job = d.stages[0].jobs[0];
    const log = await admin.post(
      `/v5/${pid}/api/pipelines/${p}/pipeline-runs/${run}/jobs/${job.id}/steps/${job.steps[0].id}/logs`,
      {
        limit: 100,
        sort: "asc",
      },
    );
    expect(log.body.log).toContain("finished while you were away");
    api = admin; // later tests talk to the restarted server
  }, 120_000);

  it("drains on SIGTERM: finishes its running job, takes no new one", async () => {
    const agent = startRunnerProcess({ server: server.url, token, labels: ["drain"], slots: 1 });
    runners.push(agent);
    const started = path.join(dir, "drain.started");
    const go = path.join(dir, "drain.go");
    const first = await createPipelineVia(api, pid, {
      definition: labelled(
        "drain",
        `touch ${started}; while [ ! -f ${go} ]; do sleep 0.1; done; echo first done`,
      ),
    });
    const second = await createPipelineVia(api, pid, { definition: labelled("drain", "echo second") });
    const r1 = (await api.post(`/v5/${pid}/api/pipelines/${first}/run`, {})).body.pipeline_run_id;
    await waitFor(async () => fs.existsSync(started), 30_000, "the first job to start");
    const r2 = (await api.post(`/v5/${pid}/api/pipelines/${second}/run`, {})).body.pipeline_run_id;
    agent.proc.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    fs.writeFileSync(go, "");
    await new Promise<void>((resolve) => agent.proc.once("exit", () => resolve()));
    expect((await runDetail(api, pid, first, r1)).status).toBe("COMPLETED");
    // The second job was not taken: it still waits for a runner with the label.
    const d2 = await runDetail(api, pid, second, r2);
    expect(d2.status).toBe("QUEUED");
    expect(d2.stages[0].jobs[0].status).toBe("QUEUED");
  }, 90_000);
});
