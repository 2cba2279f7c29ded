// The scale-out shape on loopback: PostgreSQL, two server replicas without local runners, three
// runner agents. Every run completes, every step's side effect happens exactly once, a runner
// killed mid-job loses the job to another runner, and one replica going away stops nothing.

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
  `scale-out on PostgreSQL${POSTGRES_BIN ? "" : ` (skipped: ${POSTGRES_SKIP_REASON})`}`,
  () => {
    let cluster: PostgresCluster;
    let replicas: ServerProcess[] = [];
    let runners: RunnerProcess[] = [];
    let api: Client;
    let apiB: Client;
    let pid: string;
    let runnerToken: string;
    const dir = tempDir("pipewright-scale-");
    const effects = path.join(dir, "effects.txt");

    beforeAll(async () => {
      cluster = await startPostgres();
      const url = await cluster.createDatabase();
      // Artifacts' bytes in one directory both replicas see (a shared mount, or S3, in production).
      const args = [
        "--no-local-runner",
        "--lease-seconds",
        "3",
        "--max-batch-size",
        "1000",
        "--artifacts-url",
        path.join(dir, "artifacts"),
      ];
      replicas = [
        await startServerProcess({ args, env: { DATABASE_URL: url } }),
        await startServerProcess({ args, env: { DATABASE_URL: url } }),
      ];
      const admin = client(replicas[0]!.url, E2E_ADMIN_TOKEN);
      const t = await admin.post("/admin/v1/tokens", { name: "runners", role: "runner", project_ids: [] });
      expect(t.status).toBe(200);
      runnerToken = t.body.token;
      ({ projectId: pid, api } = await setupProject(replicas[0]!.url));
      // The same token works on the other replica: the database is the only state.
      const tok = await admin.post("/admin/v1/tokens", { name: "b", role: "admin", project_ids: [pid] });
      apiB = client(replicas[1]!.url, tok.body.token);
      // Runner 0 talks to replica A; runners 1 and 2 are given both (each starts on the one its
      // name picks, the other as fallback).
      runners = [
        startRunnerProcess({ server: replicas[0]!.url, token: runnerToken, slots: 4, name: "r0" }),
        startRunnerProcess({
          server: `${replicas[1]!.url},${replicas[0]!.url}`,
          token: runnerToken,
          slots: 4,
          name: "r1",
        }),
        startRunnerProcess({
          server: `${replicas[1]!.url},${replicas[0]!.url}`,
          token: runnerToken,
          slots: 4,
          name: "r2",
        }),
      ];
      await waitFor(
        async () => ((await admin.get("/admin/v1/runners")).body.runners.length === 3 ? true : undefined),
        20_000,
        "3 runners registered",
      );
    }, 120_000);

    afterAll(async () => {
      await Promise.all(runners.map((r) => r.kill9()));
      await Promise.all(replicas.map((r) => r.kill9()));
      cluster?.stop();
    });

    it("runs a batch of 300 through the replicas: all COMPLETED, every side effect exactly once", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) {
        const target = i % 2 === 0 ? api : apiB;
        ids.push(
          await createPipelineVia(target, pid, {
            name: `p${i}`,
            definition: shellPipeline(`echo "$PIPELINE_RUN_ID" >> ${effects}`),
          }),
        );
      }
      const res = await api.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids });
      expect(res.status).toBe(200);
      const runIds = new Set<string>(
        res.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id),
      );
      expect(runIds.size).toBe(300);
      const latest = await waitFor(
        async () => {
          const st = await apiB.post(`/v5/${pid}/api/pipelines/status`, ids);
          return st.body.length === 300 && st.body.every((r: { status: string }) => r.status === "COMPLETED")
            ? st.body
            : undefined;
        },
        120_000,
        "all 300 runs COMPLETED",
      );
      expect(latest.length).toBe(300);
      const lines = fs.readFileSync(effects, "utf8").trim().split("\n");
      expect(lines.length).toBe(300);
      expect(new Set(lines)).toEqual(runIds);
      // The work was spread: every runner took some of it.
      const logs = runners.map((r) => r.output());
      expect(logs.every((l) => l.includes("registered"))).toBe(true);
    }, 180_000);

    it("the same Idempotency-Key sent to both replicas at once starts one batch: both answer its runs", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(await createPipelineVia(api, pid, { name: `idem-${i}`, definition: shellPipeline("true") }));
      for (let round = 0; round < 5; round++) {
        const key = `race-${round}-${Math.random().toString(36).slice(2)}`;
        const [a, b] = await Promise.all([
          api.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids }, { "idempotency-key": key }),
          apiB.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids }, { "idempotency-key": key }),
        ]);
        expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([200, 200]);
        expect(b.body.result).toEqual(a.body.result);
        // Exactly one of them started the runs; the other replayed them.
        const replayed = [a, b].filter((r) => r.headers.get("idempotent-replayed") === "true");
        expect(replayed).toHaveLength(1);
      }
      for (const id of ids) {
        const runs = await api.post(`/v5/${pid}/api/pipelines/${id}/pipeline-runs/list`, {});
        expect(runs.body.total).toBe(5);
      }
    }, 120_000);

    it("redispatches the job of a runner killed mid-job, and the job completes", async () => {
      const marker = path.join(dir, "victim");
      const done = path.join(dir, "victim-done");
      // The step records its agent's pid, then waits; the test kills that agent. Whoever runs the
      // job next finds the pid file from the first attempt and goes on to finish.
      const script = [
        `if [ ! -f ${marker}.pid ]; then echo $$ > ${marker}.step; echo $PPID > ${marker}.pid; sleep 1000; fi`,
        `echo "finished by $PPID" >> ${done}`,
      ].join("\n");
      const p = await createPipelineVia(api, pid, { name: "victim", definition: shellPipeline(script) });
      const run = (await api.post(`/v5/${pid}/api/pipelines/${p}/run`, {})).body.pipeline_run_id;
      await waitFor(
        async () => fs.existsSync(`${marker}.pid`) && fs.readFileSync(`${marker}.pid`, "utf8").trim() !== "",
        30_000,
        "the step to start",
      );
      // The step's parent is its agent's forkserver (or the agent, where it spawns steps itself).
      const stepParent = Number(fs.readFileSync(`${marker}.pid`, "utf8").trim());
      const parentOf = (p: number): number =>
        Number(/PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
      const agentPid = runners.some((r) => r.proc.pid === stepParent) ? stepParent : parentOf(stepParent);
      const victim = runners.find((r) => r.proc.pid === agentPid);
      expect(victim, `pid ${agentPid} is one of the runners`).toBeDefined();
      await victim!.kill9();
      const d = await waitForRun(api, pid, p, run, ["COMPLETED", "FAILED"], 60_000);
      expect(d.status, JSON.stringify(d.stages[0].jobs[0])).toBe("COMPLETED");
      // Dispatched more than once: the first attempt died with its runner.
      expect(Number(/-(\d+)$/.exec(d.stages[0].jobs[0].last_dispatch_id)![1])).toBeGreaterThanOrEqual(2);
      const finishers = fs.readFileSync(done, "utf8").trim().split("\n");
      expect(finishers.length).toBe(1);
      // The killed agent's step is reaped only when an agent starts on its work dir again; this
      // test starts none there, so it ends the step itself.
      try {
        process.kill(-Number(fs.readFileSync(`${marker}.step`, "utf8")), "SIGKILL");
      } catch {
        // already gone
      }
      expect(finishers[0]).not.toContain(String(agentPid));
      runners = runners.filter((r) => r !== victim);
    }, 120_000);

    it("streams a step's live log from a replica other than the one its runner reports to", async () => {
      // This runner talks to replica A only, and only it has the label the job asks for.
      runners.push(
        startRunnerProcess({
          server: replicas[0]!.url,
          token: runnerToken,
          slots: 1,
          labels: ["via-a"],
          name: "ra",
        }),
      );
      const gate = path.join(dir, "stream.gate");
      const def = JSON.stringify({
        stages: [
          {
            name: "s",
            identifier: "s",
            jobs: [
              {
                name: "j",
                identifier: "j",
                resource: JSON.stringify({ labels: ["via-a"] }),
                steps: [
                  {
                    name: "talk",
                    task: "official_shell_plugin",
                    inputs: [
                      {
                        key: "OFFICIAL_SHELL_SCRIPT_INPUT",
                        value: `echo first; while [ ! -f ${gate} ]; do sleep 0.1; done; for i in 1 2 3; do echo line $i; sleep 0.1; done`,
                      },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      });
      const p = await createPipelineVia(api, pid, { name: "streamed", definition: def });
      const run = (await api.post(`/v5/${pid}/api/pipelines/${p}/run`, {})).body.pipeline_run_id;
      const d = await waitForRun(apiB, pid, p, run, ["RUNNING"], 60_000);
      const job = d.stages[0].jobs[0];
      const res = await fetch(
        `${replicas[1]!.url}/v5/${pid}/api/pipelines/${p}/pipeline-runs/${run}/jobs/${job.id}/steps/${job.steps[0].id}/logs/stream`,
        { headers: { "x-auth-token": E2E_ADMIN_TOKEN } },
      );
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = "";
      const decoder = new TextDecoder();
      let opened = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        // Let the step go on only once replica B has relayed its first line.
        if (!opened && text.includes("first")) {
          opened = true;
          fs.writeFileSync(gate, "");
        }
      }
      const logged = text
        .split("\n\n")
        .filter((e) => e.startsWith("event: log"))
        .map((e) => JSON.parse(e.slice(e.indexOf("data: ") + 6)).text)
        .join("");
      expect(logged).toBe("first\nline 1\nline 2\nline 3\n");
      expect(text).toContain("event: end");
    }, 120_000);

    it("hands an artifact one agent's job kept to another agent's job, through the other replica", async () => {
      runners.push(
        startRunnerProcess({
          server: replicas[0]!.url,
          token: runnerToken,
          slots: 1,
          labels: ["art-a"],
          name: "aa",
        }),
        startRunnerProcess({
          server: replicas[1]!.url,
          token: runnerToken,
          slots: 1,
          labels: ["art-b"],
          name: "ab",
        }),
      );
      const admin = client(replicas[0]!.url, E2E_ADMIN_TOKEN);
      await waitFor(
        async () => {
          const names = (await admin.get("/admin/v1/runners")).body.runners.map(
            (r: { name: string }) => r.name,
          );
          return names.includes("aa") && names.includes("ab") ? true : undefined;
        },
        20_000,
        "the two artifact runners registered",
      );
      const job = (identifier: string, label: string, script: string, extra: Record<string, unknown>) => ({
        name: identifier,
        identifier,
        resource: JSON.stringify({ labels: [label] }),
        steps: [
          {
            name: "s",
            task: "official_shell_plugin",
            inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: script }],
          },
        ],
        ...extra,
      });
      const pl = await createPipelineVia(api, pid, {
        definition: JSON.stringify({
          stages: [
            {
              name: "make",
              identifier: "make",
              jobs: [
                job("make", "art-a", "mkdir out && echo made-on-a > out/file.txt", {
                  artifacts: [{ name: "out", paths: ["out"] }],
                }),
              ],
            },
            {
              name: "use",
              identifier: "use",
              jobs: [job("use", "art-b", "cat out/file.txt", { download_artifacts: ["out"] })],
            },
          ],
        }),
      });
      const res = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {});
      const d = await waitForRun(apiB, pid, pl, res.body.pipeline_run_id, undefined, 60_000);
      expect(d.status).toBe("COMPLETED");
      const use = d.stages[1].jobs[0];
      const log = await apiB.post(
        `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${d.id}/jobs/${use.id}/steps/${use.steps[0].id}/logs`,
        { limit: 1000, sort: "asc" },
      );
      expect(log.body.log).toContain("made-on-a\n");
    }, 120_000);

    it("goes on when one replica stops", async () => {
      await replicas[0]!.stop();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(
          await createPipelineVia(apiB, pid, {
            name: `after${i}`,
            definition: shellPipeline("echo still here"),
          }),
        );
      const res = await apiB.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids });
      expect(res.status).toBe(200);
      for (const r of res.body.result) {
        const d = await waitForRun(
          apiB,
          pid,
          r.pipeline_id,
          r.pipeline_run_id,
          ["COMPLETED", "FAILED"],
          60_000,
        );
        expect(d.status).toBe("COMPLETED");
      }
      expect((await runDetail(apiB, pid, ids[0]!)).status).toBe("COMPLETED");
    }, 120_000);
  },
);
