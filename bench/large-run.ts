// (h) A run at the size limits must not stall the server: a 10,000-job pipeline (100 stages of
// 100 one-step jobs) is created, started and run to its end by a runner agent (16 slots, its own
// process, so the server does only the server's work) while another client polls /healthz every
// 10 ms and a small pipeline of another project is started now and then. Reported: the longest
// /healthz answer in each phase (a stalled event loop shows there), the time each phase took,
// and how long the small runs waited for their job to start.

import { performance } from "node:perf_hooks";
import { DEFAULT_CONDITION } from "../src/pipeline/definition.js";
import {
  type BenchResult,
  client,
  createPipelines,
  ms,
  percentile,
  progress,
  removeDir,
  runnerToken,
  setupProject,
  sleep,
  startAgent,
  startServer,
  TERMINAL,
  tempDir,
  waitForAgents,
} from "./harness.js";

const STAGES = 100;
const JOBS_PER_STAGE = 100;
const TARGET_STALL_MS = 50;

function largeDefinition(): string {
  return JSON.stringify({
    stages: Array.from({ length: STAGES }, (_, s) => ({
      name: `s${s}`,
      identifier: `s${s}`,
      jobs: Array.from({ length: JOBS_PER_STAGE }, (_, j) => ({
        name: `j${s}_${j}`,
        identifier: `j${s}_${j}`,
        condition: DEFAULT_CONDITION,
        steps: [
          {
            name: "t",
            task: "official_shell_plugin",
            inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
          },
        ],
      })),
    })),
  });
}

/** Polls /healthz every 10 ms; `phase()` closes a phase and answers its slowest answer. */
function healthWatch(url: string) {
  const c = client(url, "");
  let worst = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      await c.get("/healthz");
      worst = Math.max(worst, performance.now() - t0);
      await sleep(10);
    }
  })();
  return {
    phase(): number {
      const w = worst;
      worst = 0;
      return w;
    },
    async stop(): Promise<void> {
      stopped = true;
      await loop;
      c.close();
    },
  };
}

export async function largeRun(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-h-");
  const server = await startServer(dir, ["--no-local-runner"]);
  const agent = startAgent(server.url, await runnerToken(server.url), "large-run", 16);
  await waitForAgents(server.url, ["large-run"]);
  const health = healthWatch(server.url);
  try {
    const big = await setupProject(server.url);
    const small = await setupProject(server.url);
    const [smallId] = await createPipelines(small.api, small.projectId, 1, "true", "small");
    const rows: [string, string][] = [];
    const stalls: number[] = [];
    const phase = (label: string, took: number): void => {
      const stall = health.phase();
      stalls.push(stall);
      rows.push([`${label}: took`, ms(took)]);
      rows.push([`${label}: longest /healthz answer`, ms(stall)]);
    };

    progress(`creating a pipeline of ${STAGES * JOBS_PER_STAGE} jobs`);
    health.phase();
    let t0 = performance.now();
    const created = await big.api.post(`/v5/${big.projectId}/api/pipelines`, {
      name: "large",
      is_publish: false,
      definition: largeDefinition(),
    });
    phase("create", performance.now() - t0);
    const pipelineId = created.body.pipeline_id as string;
    const base = `/v5/${big.projectId}/api/pipelines/${pipelineId}`;

    progress("starting it");
    t0 = performance.now();
    const runId = (await big.api.post(`${base}/run`, {})).body.pipeline_run_id as string;
    phase("run call", performance.now() - t0);

    progress("running it to its end, with a small run of another project every 2 s");
    t0 = performance.now();
    const waits: number[] = [];
    const smallBase = `/v5/${small.projectId}/api/pipelines/${smallId}`;
    let status = "RUNNING";
    let nextSmall = 0;
    while (!TERMINAL.has(status)) {
      if (performance.now() >= nextSmall) {
        nextSmall = performance.now() + 2000;
        const r = (await small.api.post(`${smallBase}/run`, {})).body.pipeline_run_id as string;
        void (async () => {
          for (;;) {
            await sleep(100);
            const d = (await small.api.get(`${smallBase}/pipeline-runs/detail?pipeline_run_id=${r}`)).body;
            if (TERMINAL.has(d.status)) {
              waits.push(d.stages[0].jobs[0].start_time - d.start_time);
              return;
            }
          }
        })();
      }
      await sleep(500);
      status = (await big.api.post(`/v5/${big.projectId}/api/pipelines/status`, [pipelineId])).body[0].status;
    }
    const execution = performance.now() - t0;
    phase("execution", execution);
    rows.push(["execution: jobs per second", ((STAGES * JOBS_PER_STAGE) / (execution / 1000)).toFixed(1)]);

    t0 = performance.now();
    const d = (await big.api.get(`${base}/pipeline-runs/detail?pipeline_run_id=${runId}`)).body;
    phase("run detail", performance.now() - t0);
    if (d.status !== "COMPLETED") throw new Error(`the large run ended ${d.status}`);
    rows.push([
      "small runs of another project meanwhile: queue-to-start",
      `p50 ${ms(percentile(waits, 50))} · max ${ms(Math.max(...waits))} (${waits.length} runs)`,
    ]);
    big.api.close();
    small.api.close();
    const worst = Math.max(...stalls);
    return {
      title: `(h) a ${STAGES * JOBS_PER_STAGE}-job run (${STAGES} stages × ${JOBS_PER_STAGE} jobs) while /healthz is polled every 10 ms`,
      rows,
      targets: [
        {
          label: "longest /healthz answer",
          value: ms(worst),
          goal: `≤ ${TARGET_STALL_MS} ms`,
          met: worst <= TARGET_STALL_MS,
        },
      ],
      notes: [
        "a /healthz answer waits for whatever holds the server's event loop: its longest answer bounds the longest stall",
      ],
    };
  } finally {
    await health.stop();
    await agent.stop();
    await server.stop();
    removeDir(dir);
  }
}
